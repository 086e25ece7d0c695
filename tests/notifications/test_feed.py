"""The relay puts typed events on the bus, and the feed replays what a subscriber missed from
the outbox as the same bus messages: one member, one event type, oldest first (on PostgreSQL
published ones only)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import asdict

import pytest

from api.wiring import wire_database
from loyalty.core.clock import FixedClock
from loyalty.core.events import BalanceChanged, PointsExpiring, UnknownEvent
from loyalty.core.models import OutboxEvent
from loyalty.storage.database import Database
from notifications import feed
from notifications.bus import RESYNC, BusMessage, InProcessBus, Subscription, member_channel
from notifications.relay import OutboxRelay
from tests.notifications.helpers import AFTERNOON, earned, event, expiring, member


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(AFTERNOON)


@pytest.fixture
async def db(private_database: str) -> AsyncIterator[Database]:
    """A database of its own: the shared test server's relay would publish these tests' events
    before their own relay could."""
    database = Database(private_database)
    wire_database(database)
    try:
        yield database
    finally:
        await database.dispose()


async def _drain(subscription: Subscription) -> list[BusMessage]:
    messages: list[BusMessage] = []
    stream = aiter(subscription)
    while True:
        try:
            messages.append(await asyncio.wait_for(anext(stream), 0.2))
        except TimeoutError:
            return messages


async def test_missed_replays_published_events_of_one_type_oldest_first(
    db: Database, clock: FixedClock
) -> None:
    anna = await member(db, clock, devices=())
    bert = await member(db, clock, "bert@example.com", devices=())
    first = await event(db, clock, "balance.changed", anna, earned(10))
    await event(db, clock, "points.expiring", anna, expiring(5))
    await event(db, clock, "balance.changed", bert, earned(20))
    second = await event(db, clock, "balance.changed", anna, earned(30))
    bus = InProcessBus()
    listening = bus.subscribe(member_channel(anna))
    await OutboxRelay(db, bus, clock).run_once()
    unpublished = await event(db, clock, "balance.changed", anna, earned(40))

    assert await feed.newest(db, anna) == unpublished  # published or not
    assert await feed.newest(db, bert + 1000) == 0
    # SQLite's ids follow commit order, so a committed event counts before it is published
    # too; PostgreSQL's replay waits for the relay.
    waiting = [unpublished] if db.is_sqlite else []
    everything = await feed.missed(db, anna, BalanceChanged, 0)
    assert [m.event_id for m in everything] == [first, second, *waiting]
    missed = everything[:2]
    events = [m.event() for m in missed]
    assert all(isinstance(e, BalanceChanged) and e.member_id == anna for e in events)
    assert [getattr(e, "points", None) for e in events] == [10, 30]
    after_first = await feed.missed(db, anna, BalanceChanged, first)
    assert [m.event_id for m in after_first] == [second, *waiting]
    assert [m.event_id for m in await feed.missed(db, anna, BalanceChanged, 0, limit=1)] == [first]
    [expiry] = await feed.missed(db, anna, PointsExpiring, 0)
    assert expiry.event() == PointsExpiring.from_payload(anna, expiring(5))

    # The replay is what the bus carried.
    carried = [m for m in await _drain(listening) if m.is_a(BalanceChanged)]
    assert carried == missed
    listening.close()


async def test_a_bus_message_keeps_its_wire_form_and_reads_as_its_event(
    db: Database, clock: FixedClock
) -> None:
    anna = await member(db, clock, devices=())
    event_id = await event(db, clock, "balance.changed", anna, earned(50))
    bus = InProcessBus()
    listening = bus.subscribe(member_channel(anna))
    await OutboxRelay(db, bus, clock).run_once()
    [message] = [m for m in await _drain(listening) if m.event_id == event_id]
    listening.close()
    assert (message.topic, message.member_id, message.payload) == (
        "balance.changed",
        anna,
        earned(50),
    )
    assert message.occurred_at == AFTERNOON.isoformat()
    # Through Redis it travels as JSON of its fields.
    again = BusMessage(**json.loads(json.dumps(asdict(message))))
    assert again.event() == message.event() == BalanceChanged.from_payload(anna, earned(50))
    assert message.is_a(BalanceChanged) and not message.is_a(PointsExpiring)
    marker = BusMessage(event_id=0, topic=RESYNC, member_id=None, occurred_at="", payload={})
    with pytest.raises(UnknownEvent):
        marker.event()


async def test_an_event_no_type_reads_is_left_off_the_bus_and_the_feed(
    db: Database, clock: FixedClock
) -> None:
    anna = await member(db, clock, devices=())
    before = await event(db, clock, "balance.changed", anna, earned(1))
    async with db.unit_of_work() as uow:
        unreadable = OutboxEvent(
            topic="balance.changed",
            version=99,
            member_id=anna,
            payload=earned(2),
            occurred_at=clock.now(),
        )
        uow.session.add(unreadable)
        await uow.commit()
    after = await event(db, clock, "balance.changed", anna, earned(3))
    bus = InProcessBus()
    listening = bus.subscribe(member_channel(anna))
    await OutboxRelay(db, bus, clock).run_once()
    carried = [m.event_id for m in await _drain(listening) if m.is_a(BalanceChanged)]
    listening.close()
    assert carried == [before, after]
    assert [m.event_id for m in await feed.missed(db, anna, BalanceChanged, 0)] == [before, after]
    # It was handled (published), so the relay does not stall on it.
    assert await OutboxRelay(db, bus, clock).run_once() == 0


async def test_newest_of_many_members_in_one_query_is_newest_of_each(
    db: Database, clock: FixedClock
) -> None:
    anna = await member(db, clock, devices=())
    bert = await member(db, clock, "bert@example.com", devices=())
    await event(db, clock, "balance.changed", anna, earned(10))
    await event(db, clock, "balance.changed", bert, earned(20))
    await event(db, clock, "balance.changed", anna, earned(30))
    asks = [(anna, False), (bert, False), (bert + 1000, False), (anna, True), (bert + 1000, True)]
    expected = [await feed.newest(db, m, programme_wide=wide) for m, wide in asks]
    assert await feed.newest_of(db, asks) == expected
    assert expected[2] == expected[4] == 0 and expected[0] > expected[1] > 0
