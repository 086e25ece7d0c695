"""Relay connections: bounded page sizes and opaque keyset cursors."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from strawberry import relay

from api.core.errors import bad_input


def page_size(first: int | None, maximum: int, default: int = 20) -> int:
    if first is None:
        return min(default, maximum)
    if first < 0:
        raise bad_input("`first` must not be negative")
    if first > maximum:
        raise bad_input(f"`first` may be at most {maximum}")
    return first


def encode_cursor(kind: str, *keys: object) -> str:
    raw = ":".join([kind, *(str(k) for k in keys)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> list[str] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        prefix, *keys = base64.urlsafe_b64decode(padded.encode()).decode().split(":")
    except (ValueError, UnicodeDecodeError):
        prefix, keys = "", []
    if prefix != kind or not keys:
        raise bad_input("`after` is not a cursor from this list")
    return keys


MAX_ID = 2**63 - 1


def decode_id_cursor(kind: str, cursor: str | None) -> int | None:
    """The row id in a cursor made by `encode_cursor(kind, id)`; a forged or damaged cursor
    is the client's mistake, never a database error."""
    keys = decode_cursor(kind, cursor)
    if keys is None:
        return None
    raw = keys[0]
    if len(keys) != 1 or not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        raise bad_input("`after` is not a cursor from this list")
    return int(raw)


class _HasId(Protocol):
    id: Any


R = TypeVar("R", bound=_HasId)
N = TypeVar("N", bound=relay.Node)


def connection(
    rows: Sequence[R], limit: int, after_given: bool, kind: str, node: Callable[[R], N]
) -> relay.Connection[N]:
    """A page from `limit + 1` rows fetched in keyset order (the extra row tells whether there
    is a next page); cursors carry the row id."""
    edges = [relay.Edge(cursor=encode_cursor(kind, r.id), node=node(r)) for r in rows[:limit]]
    return relay.Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(rows) > limit,
            has_previous_page=after_given,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
