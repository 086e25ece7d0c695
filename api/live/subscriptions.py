"""Live updates over graphql-transport-ws: a member hears about their own changes only.

Each subscription first listens on the bus, then (given a cursor) replays what the member
missed from the outbox, then streams; event ids it has already sent are skipped, so a client
that reconnects with its last cursor misses nothing and sees nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import strawberry
from sqlalchemy import func, select
from strawberry.types import Info

from api.context import Context
from api.errors import ApiError
from api.offers.types import Offer
from api.pagination import decode_id_cursor, encode_cursor
from api.permissions import require_member
from api.points.types import Balance, ExpiringPoints, PointsTransaction, TransactionKind
from loyalty.core.models import OutboxEvent
from loyalty.storage.database import Database
from notifications.bus import RESYNC, BusMessage, Overflowed, member_channel
from notifications.relay import message_of

READY_TIMEOUT = 2.0
MAX_REPLAY = 1000
T = TypeVar("T")


@strawberry.type
class BalanceChangedEvent:
    cursor: str = strawberry.field(description="Pass as `after` when reconnecting.")
    balance: Balance
    entry: PointsTransaction


@strawberry.enum
class OfferChange(Enum):
    GRANTED = "granted"
    UPDATED = "updated"
    REMOVED = "removed"


@strawberry.type
class OffersChangedEvent:
    cursor: str
    change: OfferChange
    offer: Offer


def _balance_event(message: BusMessage) -> BalanceChangedEvent:
    p = message.payload
    return BalanceChangedEvent(
        cursor=encode_cursor("events", message.event_id),
        balance=Balance(
            available=p["available"],
            pending=p["pending"],
            lifetime_earned=p["lifetime_earned"],
            debt=p.get("debt", 0),
            expiring_soon=(
                ExpiringPoints(
                    points=p["expiring_points"],
                    expires_at=datetime.fromisoformat(p["expiring_at"]),
                )
                if p.get("expiring_at") and p.get("expiring_points")
                else None
            ),
        ),
        entry=PointsTransaction(
            id=p["entry_id"],
            kind=TransactionKind(p["kind"]),
            points=p["points"],
            description=p["description"],
            occurred_at=datetime.fromisoformat(p["occurred_at"]),
            available_at=_when(p.get("available_at")),
            expires_at=_when(p.get("expires_at")),
            member_id=message.member_id or 0,
        ),
    )


def _offers_event(message: BusMessage) -> OffersChangedEvent:
    return OffersChangedEvent(
        cursor=encode_cursor("events", message.event_id),
        change=OfferChange(message.payload["change"]),
        offer=Offer.of_payload(message.payload["offer"]),
    )


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _newest(db: Database, member_id: int) -> int:
    async with db.unit_of_work(write=False) as uow:
        newest = await uow.session.scalar(
            select(func.max(OutboxEvent.id)).where(OutboxEvent.member_id == member_id)
        )
    return int(newest or 0)


async def _missed(db: Database, member_id: int, topic: str, after: int) -> list[OutboxEvent]:
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(
                select(OutboxEvent)
                .where(
                    OutboxEvent.member_id == member_id,
                    OutboxEvent.topic == topic,
                    OutboxEvent.id > after,
                    OutboxEvent.published_at.is_not(None),
                )
                .order_by(OutboxEvent.id)
                .limit(MAX_REPLAY)
            )
        )


async def _stream(
    info: Info[Context, None], topic: str, after: str | None, build: Callable[[BusMessage], T]
) -> AsyncGenerator[T, None]:
    # A socket lives long: the session may have ended since it connected.
    await info.context.reauthenticate()
    member_id = require_member(info).member_id
    last = decode_id_cursor("events", after)
    services = info.context.services
    subscription = services.bus.subscribe(member_channel(member_id))
    try:
        # If the bus is away, go on: live updates resume when it is back.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscription.ready.wait(), READY_TIMEOUT)
        if last is None:
            # No cursor: changes from now on. Anything already committed counts as seen.
            last = await _newest(services.db, member_id)
        else:
            for event in await _missed(services.db, member_id, topic, last):
                last = event.id
                yield build(message_of(event))
        async for message in subscription:
            if message.topic == RESYNC:
                # The bus was away: what was published meanwhile is in the outbox.
                for event in await _missed(services.db, member_id, topic, last):
                    last = event.id
                    yield build(message_of(event))
            elif message.topic == topic and message.event_id > last:
                last = message.event_id
                yield build(message)
    except Overflowed:
        raise ApiError(
            "SLOW_CONSUMER", "Too many updates queued; reconnect with your cursor"
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
        async for event in _stream(info, "balance.changed", after, _balance_event):
            yield event

    @strawberry.subscription(description="The member's personal offers changed.")
    async def offers_changed(
        self, info: Info[Context, None], after: str | None = None
    ) -> AsyncGenerator[OffersChangedEvent, None]:
        async for event in _stream(info, "offer.changed", after, _offers_event):
            yield event
