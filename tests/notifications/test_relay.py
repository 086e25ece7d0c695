"""The outbox relay: every event published once and in order, also with two relays taking
turns on one bus; on SQLite an event committed elsewhere wakes it without waiting for a poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from loyalty.core.clock import FixedClock
from loyalty.core.models import OutboxEvent
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade
from notifications.bus import BusMessage, InProcessBus, member_channel
from notifications.relay import OutboxRelay
from tests.conftest import wired_database
from tests.notifications.helpers import AFTERNOON, earned, event, member


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(AFTERNOON)


@pytest.fixture
async def db(private_database: str) -> AsyncIterator[Database]:
    async with wired_database(private_database) as database:
        yield database


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    async with wired_database(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}") as database:
        await upgrade(database)
        yield database


async def _unpublished(db: Database) -> int:
    async with db.unit_of_work(write=False) as uow:
        query = select(func.count()).where(OutboxEvent.published_at.is_(None))
        return int(await uow.session.scalar(query) or 0)


async def test_two_relays_on_one_bus_publish_every_event_once_in_order(
    db: Database, clock: FixedClock
) -> None:
    anna = await member(db, clock, devices=())
    bus = InProcessBus()
    relays = [OutboxRelay(db, bus, clock, batch=7) for _ in range(2)]
    while await relays[0].run_once():  # what joining anna emitted
        pass
    heard: list[int] = []
    bus.listen(lambda m: heard.append(m.event_id), member_channel(anna))
    committed: list[int] = []
    for _round in range(3):
        for points in range(20):
            committed.append(await event(db, clock, "balance.changed", anna, earned(points)))
        # Both try at the same moment, again and again, until nothing is left.
        while sum(await asyncio.gather(*(relay.run_once() for relay in relays))):
            pass
        assert await _unpublished(db) == 0
    assert heard == committed


async def test_an_event_committed_elsewhere_is_published_without_a_poke_or_a_poll(
    sqlite_db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    anna = await member(sqlite_db, clock, devices=())
    bus = InProcessBus()
    relay = OutboxRelay(sqlite_db, bus, clock)
    while await relay.run_once():  # what joining anna emitted
        pass
    heard: asyncio.Queue[BusMessage] = asyncio.Queue()
    bus.listen(heard.put_nowait, member_channel(anna))
    stop = asyncio.Event()
    # Its poll would come in an hour; nothing in this process pokes it.
    running = asyncio.create_task(relay.run(stop, interval=3600))
    elsewhere = Database(sqlite_db.url)  # its own connections, as another process has
    try:
        await asyncio.sleep(0.1)  # the relay has looked once and found nothing
        event_id = await event(elsewhere, clock, "balance.changed", anna, earned(5))
        message = await asyncio.wait_for(heard.get(), 60)
        assert message.event_id == event_id
    finally:
        stop.set()
        await running
        await elsewhere.dispose()
