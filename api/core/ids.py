"""Opaque global ids: the type and row id of an object, encrypted and authenticated with the
installation's key (AES-SIV), so ids carry no sequence number and cannot be guessed or made
up; the same object has the same id for as long as the key stays (docs/security.md).

The request's codec is set in the request context (`use`); the `ID` scalar serializes every
`GlobalID` through it, and resolvers read ids back with `parse` and `decode`.
"""

from __future__ import annotations

import inspect
from contextvars import ContextVar
from typing import Any

from strawberry import relay
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from api.core.errors import bad_input
from loyalty.core.opaque_ids import OpaqueIds


class IdCodec:
    """Turns (type name, row id) into an opaque id and back (`loyalty.core.opaque_ids`)."""

    def __init__(self, secret: bytes) -> None:
        self.opaque = OpaqueIds(secret)

    def encode(self, global_id: relay.GlobalID) -> str:
        return self.opaque.seal(global_id.type_name, global_id.node_id)

    def parse(self, raw: str) -> relay.GlobalID | None:
        """The global id inside `raw`, or None when it is not an id this installation made."""
        found = self.opaque.open(raw)
        return relay.GlobalID(*found) if found is not None else None


_current: ContextVar[IdCodec | None] = ContextVar("trouw_ids", default=None)


# The codec of the installation this process serves, for work outside any request's context
# (live events written to sockets from the bus's callbacks).
_installation: IdCodec | None = None


def use(codec: IdCodec | None) -> None:
    """Make `codec` the one of this request (called when its context is made)."""
    _current.set(codec)


def install(codec: IdCodec | None) -> None:
    """Make `codec` the process's own (when the app starts)."""
    global _installation
    _installation = codec


def current() -> IdCodec:
    codec = _current.get() or _installation
    if codec is None:
        raise RuntimeError("no id codec for this request")
    return codec


class Sealed(FieldExtension):
    """On a node's `id` field: the global id leaves sealed by the request's codec."""

    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        return current().encode(next_(source, info, **kwargs))

    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        result = next_(source, info, **kwargs)
        return current().encode(await result if inspect.isawaitable(result) else result)


def seal_node_ids() -> None:
    """Attach `Sealed` to the `id` of every node type (every subclass of `relay.Node`)."""
    pending = list(relay.Node.__subclasses__())
    while pending:
        node = pending.pop()
        pending.extend(node.__subclasses__())
        definition = getattr(node, "__strawberry_definition__", None)
        for field in definition.fields if definition else []:
            if (field.graphql_name or field.python_name) == "id" and not any(
                isinstance(e, Sealed) for e in field.extensions
            ):
                field.extensions.append(Sealed())


def sealed(type_name: str, row: int) -> str:
    """The id of a row as the API shows it, for fields that carry another object's id."""
    return current().encode(relay.GlobalID(type_name, str(row)))


def parse(raw: str) -> relay.GlobalID | None:
    return current().parse(raw)


def row_id(node_id: str) -> int:
    """The row id inside a node id; 0 (matching nothing) for anything that cannot be ours,
    such as non-ASCII digits or numbers beyond 64 bits."""
    return int(node_id) if node_id.isascii() and node_id.isdigit() and len(node_id) < 19 else 0


def decode(raw: str, type_name: str, argument: str) -> int:
    """The row id of a global id that must name a `type_name`."""
    global_id = parse(raw)
    if global_id is None or global_id.type_name != type_name or not row_id(global_id.node_id):
        raise bad_input(f"`{argument}` is not a {type_name} id")
    return row_id(global_id.node_id)
