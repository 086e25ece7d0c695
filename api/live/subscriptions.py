"""Live updates over graphql-transport-ws: a member hears about their own changes only.

Each subscription first listens on the bus, then (given a cursor) replays what the member
missed from the outbox, then streams; event ids it has already sent are skipped, so a client
that reconnects with its last cursor misses nothing and sees nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import TypeVar

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import ApiError, ApiErrorCode
from api.core.pagination import decode_id_cursor, encode_cursor
from api.core.permissions import require_member
from api.live.types import BalanceChangedEvent, OfferChange, OffersChangedEvent
from api.offers.types import Offer
from api.points.types import Balance, ExpiringPoints, PointsTransaction, TransactionKind
from loyalty.core.events import (
    BalanceChanged,
    Event,
    OfferActivated,
    OfferChanged,
    OfferExpired,
    OfferGranted,
    OfferRedeemed,
)
from notifications import feed
from notifications.bus import RESYNC, BusMessage, Overflowed, member_channel

READY_TIMEOUT = 2.0
T = TypeVar("T")


def _balance_event(message: BusMessage) -> BalanceChangedEvent:
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


async def _offers_event(
    info: Info[Context, None], message: BusMessage
) -> OffersChangedEvent | None:
    """The change with the offer as the member sees it now; None when the offer is gone."""
    event = message.event()
    cursor = encode_cursor("events", message.event_id)
    if isinstance(event, OfferChanged):
        offer = Offer.of_payload(dict(event.offer))
        return OffersChangedEvent(cursor=cursor, change=OfferChange(event.change), offer=offer)
    offer_id = getattr(event, "offer_id", None)
    member_id = require_member(info).member_id
    view = await info.context.services.offers.snapshot(member_id, offer_id) if offer_id else None
    if view is None:
        return None
    return OffersChangedEvent(
        cursor=cursor, change=OFFER_CHANGES[type(event)], offer=Offer.of_view(view)
    )


async def _stream(
    info: Info[Context, None], event_types: tuple[type[Event], ...], after: str | None
) -> AsyncGenerator[BusMessage, None]:
    """The member's events of these types: missed ones first (given a cursor), then live."""
    # A socket lives long: the session may have ended since it connected.
    await info.context.reauthenticate()
    member_id = require_member(info).member_id
    last = decode_id_cursor("events", after)
    services = info.context.services
    topics = {kind.name for kind in event_types}
    subscription = services.bus.subscribe(member_channel(member_id))
    try:
        # If the bus is away, go on: live updates resume when it is back.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscription.ready.wait(), READY_TIMEOUT)
        if last is None:
            # No cursor: changes from now on. Anything already committed counts as seen.
            last = await feed.newest(services.db, member_id)
        else:
            for message in await feed.missed(services.db, member_id, event_types, last):
                last = message.event_id
                yield message
        async for message in subscription:
            if message.topic == RESYNC:
                # The bus was away: what was published meanwhile is in the outbox.
                for missed in await feed.missed(services.db, member_id, event_types, last):
                    last = missed.event_id
                    yield missed
            elif message.topic in topics and message.event_id > last:
                last = message.event_id
                yield message
    except Overflowed:
        raise ApiError(
            ApiErrorCode.SLOW_CONSUMER, "Too many updates queued; reconnect with your cursor"
        ) from None
    finally:
        subscription.close()


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
            yield _balance_event(message)

    @strawberry.subscription(description="The member's personal offers changed.")
    async def offers_changed(
        self, info: Info[Context, None], after: str | None = None
    ) -> AsyncGenerator[OffersChangedEvent, None]:
        async for message in _stream(info, OFFER_EVENTS, after):
            event = await _offers_event(info, message)
            if event is not None:
                yield event
