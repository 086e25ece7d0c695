"""How an event's payload travels: each field's name on the wire and its conversions to and
from JSON, worked out once per event type (events are read and written on every delivery)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, get_type_hints

if TYPE_CHECKING:
    from loyalty.core.events import Event

_FIELDS: dict[type[Event], list[tuple[dataclasses.Field[Any], str, Any]]] = {}


def fields_of(cls: type[Event]) -> list[tuple[dataclasses.Field[Any], str, Any]]:
    """Each field of `cls` with its name on the wire and its type (worked out once)."""
    known = _FIELDS.get(cls)
    if known is None:
        hints = get_type_hints(cls)
        known = _FIELDS[cls] = [
            (f, f.metadata.get("wire", f.name), hints[f.name]) for f in dataclasses.fields(cls)
        ]
    return known


@dataclass(frozen=True)
class _Field:
    """How one payload field travels: its names and its conversions to and from JSON."""

    name: str
    wire: str
    required: bool
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


MISSING = object()
_CODECS: dict[type[Event], tuple[_Field, ...]] = {}


def codec(cls: type[Event]) -> tuple[_Field, ...]:
    """The payload fields of `cls`, worked out once per type (events are read and written on
    every delivery)."""
    known = _CODECS.get(cls)
    if known is None:
        known = _CODECS[cls] = tuple(
            _Field(
                f.name,
                wire,
                f.default is dataclasses.MISSING,
                *_conversions(kind),
            )
            for f, wire, kind in fields_of(cls)
            if f.name != "member_id"
        )
    return known


def _conversions(kind: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if kind is datetime:
        return _optional(datetime.isoformat), datetime.fromisoformat
    if kind is Decimal:
        return _optional(str), lambda value: Decimal(str(value))
    if kind is int or kind is str:
        return _same, kind
    return _optional(dict), _same


def _optional(encode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else encode(value)


def _same(value: Any) -> Any:
    return value
