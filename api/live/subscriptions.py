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
from notifications.bus import (
    PROGRAMME_CHANNEL,
    RESYNC,
    BusMessage,
    Overflowed,
    member_channel,
)

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
    offers = info.context.services.offers
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


async def _stream(
    info: Info[Context, None],
    event_types: tuple[type[Event], ...],
    after: str | None,
    programme_wide: bool = False,
) -> AsyncGenerator[BusMessage, None]:
    """The member's events of these types: missed ones first (given a cursor), then live;
    with `programme_wide` also those about no member in particular (an offer made for all)."""
    # A socket lives long: the session may have ended since it connected.
    await info.context.reauthenticate()
    member_id = require_member(info).member_id
    last = decode_id_cursor("events", after)
    services = info.context.services
    topics = {kind.name for kind in event_types}
    mine = member_channel(member_id)
    subscription = (
        services.bus.subscribe(mine, PROGRAMME_CHANNEL)
        if programme_wide
        else services.bus.subscribe(mine)
    )
    try:
        # If the bus is away, go on: live updates resume when it is back.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscription.ready.wait(), READY_TIMEOUT)
        if last is None:
            # No cursor: changes from now on. Anything already committed counts as seen.
            last = await feed.newest(services.db, member_id, programme_wide)
        else:
            missed = await feed.missed(
                services.db, member_id, event_types, last, programme_wide=programme_wide
            )
            for message in missed:
                last = message.event_id
                yield message
        async for message in subscription:
            if message.topic == RESYNC:
                # The bus was away: what was published meanwhile is in the outbox.
                for again in await feed.missed(
                    services.db, member_id, event_types, last, programme_wide=programme_wide
                ):
                    last = again.event_id
                    yield again
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
        async for message in _stream(info, OFFER_EVENTS, after, programme_wide=True):
            event = await _offers_event(info, message)
            if event is not None:
                yield event
