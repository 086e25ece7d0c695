"""Opaque global ids: reading them back from clients."""

from __future__ import annotations

from strawberry import relay

from api.core.errors import bad_input


def row_id(node_id: str) -> int:
    """The row id inside a node id; 0 (matching nothing) for anything that cannot be ours,
    such as non-ASCII digits or numbers beyond 64 bits."""
    return int(node_id) if node_id.isascii() and node_id.isdigit() and len(node_id) < 19 else 0


def decode(raw: str, type_name: str, argument: str) -> int:
    """The row id of a global id that must name a `type_name`."""
    try:
        global_id = relay.GlobalID.from_id(raw)
    except relay.GlobalIDValueError:
        global_id = None
    if global_id is None or global_id.type_name != type_name or not row_id(global_id.node_id):
        raise bad_input(f"`{argument}` is not a {type_name} id")
    return row_id(global_id.node_id)
