"""Live updates: a member hears about their own changes only.

Each subscription first listens on the bus, then (given a cursor) replays what the member
missed from the outbox, then streams; event ids it has already sent are skipped, so a client
that reconnects with its last cursor misses nothing and sees nothing twice (`api.live.stream`).

These are the schema's subscription fields, run by Strawberry for the legacy graphql-ws
protocol and for documents the lean graphql-transport-ws transport (`api.live.transport`)
does not plan; that transport builds the same events with `balance_event` and `offers_event`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.input_check import check_arguments
from api.core.pagination import decode_id_cursor, encode_cursor
from api.core.permissions import member_of
from api.live.payload import PayloadReaders, cursor, itself, wire
from api.live.stream import LiveStream, slow_consumer
from api.live.types import BalanceChangedEvent, OfferChange, OffersChangedEvent
from api.offers.types import Offer
from api.points.types import Balance, ExpiringPoints, PointsTransaction, TransactionKind
from loyalty.auth.service import MemberPrincipal
from loyalty.core.events import (
    BalanceChanged,
    Event,
    OfferActivated,
    OfferChanged,
    OfferExpired,
    OfferGranted,
    OfferRedeemed,
)
from notifications.bus import QUEUE_SIZE, BusMessage


def balance_event(message: BusMessage) -> BalanceChangedEvent:
    e = BalanceChanged.from_payload(message.member_id, message.payload)
    return BalanceChangedEvent(
        cursor=encode_cursor("events", message.event_id),
        balance=Balance(
            available=e.available,
            pending=e.pending,
            lifetime_earned=e.lifetime_earned,
            debt=e.debt,
            expiring_soon=(
                ExpiringPoints(points=e.expiring_points, expires_at=e.expiring_at)
                if e.expiring_at and e.expiring_points
                else None
            ),
        ),
        entry=PointsTransaction(
            id=e.entry_id,
            kind=TransactionKind(e.kind),
            points=e.points,
            description=e.entry_description,
            occurred_at=e.occurred_at,
            available_at=e.available_at,
            expires_at=e.expires_at,
            member_id=message.member_id or 0,
        ),
    )


# What each offer event means for the member's list of offers.
OFFER_CHANGES: dict[type[Event], OfferChange] = {
    OfferGranted: OfferChange.GRANTED,
    OfferActivated: OfferChange.UPDATED,
    OfferRedeemed: OfferChange.UPDATED,
    OfferExpired: OfferChange.REMOVED,
}
OFFER_EVENTS: tuple[type[Event], ...] = (OfferChanged, *OFFER_CHANGES)


def _offer_changed(message: BusMessage) -> OffersChangedEvent:
    """`offer.changed` carries the offer as the member sees it: nothing to read."""
    event = OfferChanged.from_payload(message.member_id, message.payload)
    return OffersChangedEvent(
        cursor=encode_cursor("events", message.event_id),
        change=OfferChange(event.change),
        offer=Offer.of_payload(dict(event.offer)),
    )


async def offers_event(
    context: Context, member_id: int, message: BusMessage
) -> OffersChangedEvent | None:
    """The change with the offer as the member sees it now; None when the offer is gone."""
    event = message.event()
    cursor = encode_cursor("events", message.event_id)
    if isinstance(event, OfferChanged):
        return _offer_changed(message)
    offer_id = getattr(event, "offer_id", None)
    offers = context.services.offers
    if offer_id is None:
        return None
    if event.member_id is None:
        # An offer made for (or taken from) everyone: this member hears it if it changes
        # what they may have.
        view = await offers.for_everyone(member_id, offer_id, isinstance(event, OfferGranted))
    else:
        view = await offers.snapshot(member_id, offer_id)
    if view is None:
        return None
    return OffersChangedEvent(
        cursor=cursor, change=OFFER_CHANGES[type(event)], offer=Offer.of_view(view)
    )


# The event a message becomes for a member: the event, None (nothing for them), or an
# awaitable of either when it takes a read first.
Build = Callable[[Context, int, BusMessage], object | Awaitable[object | None] | None]


@dataclass(frozen=True)
class LiveField:
    """A subscription field as the lean transport runs it."""

    kinds: tuple[type[Event], ...]
    programme_wide: bool
    build: Build
    payload: PayloadReaders | None = None  # how plans read its events without `build`


def _expiring_soon(message: BusMessage) -> BusMessage | None:
    payload = message.payload
    return message if payload.get("expiring_at") and payload.get("expiring_points") else None


def _kind(message: BusMessage) -> TransactionKind:
    return TransactionKind(message.payload["kind"])


def _balance_wire(name: str) -> Callable[[BusMessage], object]:
    return wire(BalanceChanged, name)


# `balance_event`, field by field, read from the payload (the GraphQL field names).
BALANCE_READERS = PayloadReaders(
    frozenset({BalanceChanged.name}),
    {
        "BalanceChangedEvent": {"cursor": cursor, "balance": itself, "entry": itself},
        "Balance": {
            "available": _balance_wire("available"),
            "pending": _balance_wire("pending"),
            "lifetimeEarned": _balance_wire("lifetime_earned"),
            "debt": _balance_wire("debt"),
            "expiringSoon": _expiring_soon,
        },
        "ExpiringPoints": {
            "points": _balance_wire("expiring_points"),
            "expiresAt": _balance_wire("expiring_at"),
        },
        "PointsTransaction": {
            "id": _balance_wire("entry_id"),
            "kind": _kind,
            "points": _balance_wire("points"),
            "description": _balance_wire("entry_description"),
            "occurredAt": _balance_wire("occurred_at"),
            "availableAt": _balance_wire("available_at"),
            "expiresAt": _balance_wire("expires_at"),
        },
    },
)


def _build_offers(
    context: Context, member_id: int, message: BusMessage
) -> object | Awaitable[object | None]:
    if message.is_a(OfferChanged):
        return _offer_changed(message)
    return offers_event(context, member_id, message)


LIVE_FIELDS: dict[str, LiveField] = {
    "balanceChanged": LiveField(
        (BalanceChanged,), False, lambda _c, _m, msg: balance_event(msg), BALANCE_READERS
    ),
    "offersChanged": LiveField(OFFER_EVENTS, True, _build_offers),
}


async def open_stream(context: Context, after: str | None) -> tuple[MemberPrincipal, int | None]:
    """Who listens, and from where: what every live subscription checks as it starts."""
    check_arguments(after=after)
    # A socket lives long: the session may have ended since it connected.
    await context.reauthenticate()
    return member_of(context), decode_id_cursor("events", after)


async def _stream(
    info: Info[Context, None],
    event_types: tuple[type[Event], ...],
    after: str | None,
    programme_wide: bool = False,
) -> AsyncGenerator[BusMessage, None]:
    """The member's events of these types (see `LiveStream`), for Strawberry's executor: the
    legacy graphql-ws protocol and documents the lean transport does not plan."""
    member, last = await open_stream(info.context, after)
    queue: asyncio.Queue[BusMessage | BaseException | None] = asyncio.Queue()

    def take(message: BusMessage) -> None:
        if queue.qsize() >= QUEUE_SIZE:
            stream.close()
            queue.put_nowait(slow_consumer())
        else:
            queue.put_nowait(message)

    stream = LiveStream(
        info.context.services,
        member.member_id,
        event_types,
        last,
        take,
        queue.put_nowait,
        programme_wide=programme_wide,
    )
    stream.start()
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stream.close()


@strawberry.type
class LiveSubscriptions:
    @strawberry.subscription(
        description="The member's points changed. Give `after` (the last "
        "cursor you saw) when reconnecting to receive what you missed."
    )
    async def balance_changed(
        self, info: Info[Context, None], after: str | None = None
    ) -> AsyncGenerator[BalanceChangedEvent, None]:
        async for message in _stream(info, (BalanceChanged,), after):
            yield balance_event(message)

    @strawberry.subscription(description="The member's personal offers changed.")
    async def offers_changed(
        self, info: Info[Context, None], after: str | None = None
    ) -> AsyncGenerator[OffersChangedEvent, None]:
        async for message in _stream(info, OFFER_EVENTS, after, programme_wide=True):
            member_id = member_of(info.context).member_id
            event = await offers_event(info.context, member_id, message)
            if event is not None:
                yield event
