"""Reading a live event's fields straight from the bus message's payload, and sealing ids
through a small cache.

A plan (`api.live.plans`) renders an event through readers over its GraphQL objects. For a
live field that declares `PayloadReaders`, each plan is also compiled with readers that take
the message itself (nested objects read the same message), so a delivery needs neither the
typed event nor its Strawberry objects. Each reader returns what the typed path's attribute
would hold (decoded by the event's own codec), so the GraphQL types finish both alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from strawberry import relay

from api.core import ids
from api.core.ids import IdCodec
from api.core.pagination import encode_cursor
from loyalty.core.event_base import Event
from loyalty.core.event_codec import codec
from notifications.bus import BusMessage

MessageReader = Callable[[BusMessage], Any]


@dataclass(frozen=True)
class PayloadReaders:
    """For messages of `topics`: per GraphQL object type, per field, how to read it from the
    message. A plan selecting a field not here renders through the typed event instead."""

    topics: frozenset[str]
    types: Mapping[str, Mapping[str, MessageReader]]


def wire(kind: type[Event], name: str) -> MessageReader:
    """The payload field `name` of `kind`, decoded as `from_payload` would."""
    (field,) = [c for c in codec(kind) if c.name == name]
    key, decode = field.wire, field.decode
    return lambda message: None if (v := message.payload[key]) is None else decode(v)


def cursor(message: BusMessage) -> str:
    return encode_cursor("events", message.event_id)


def itself(message: BusMessage) -> BusMessage:
    return message


# Sealed ids by (codec, type, row). AES-SIV is deterministic, so a cached id is the id the
# codec would make again; ids that repeat (an offer's, the member's own) are sealed once.
# Bounded: emptied when full, which costs less per delivery than keeping an LRU order.
SEALED_CACHE_SIZE = 4096
_sealed: dict[tuple[IdCodec, str, str], str] = {}


def seal(type_name: str, node_id: str) -> str:
    codec_ = ids.current()
    key = (codec_, type_name, node_id)
    found = _sealed.get(key)
    if found is None:
        if len(_sealed) >= SEALED_CACHE_SIZE:
            _sealed.clear()
        found = _sealed[key] = codec_.encode(relay.GlobalID(type_name, node_id))
    return found
