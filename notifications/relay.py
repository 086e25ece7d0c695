"""The outbox relay: publishes committed events to the bus, in order, at least once."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select, update

from loyalty.core.clock import Clock
from loyalty.core.models import OutboxEvent
from loyalty.storage.database import Database
from loyalty.storage.locks import try_exclusive
from notifications.bus import BusMessage, EventBus

log = logging.getLogger("trouw.relay")
# Any constant works; it only has to be the same in every process of an installation.
RELAY_LOCK_KEY = 0x7472_6F75_7700_0001


def message_of(event: OutboxEvent) -> BusMessage:
    return BusMessage(
        event_id=event.id,
        topic=event.topic,
        member_id=event.member_id,
        occurred_at=event.occurred_at.isoformat(),
        payload=event.payload,
    )


class OutboxRelay:
    """Any number of processes may run a relay: on PostgreSQL an advisory lock lets one
    publish at a time (so events leave in commit order); on SQLite the write lock does."""

    def __init__(self, db: Database, bus: EventBus, clock: Clock, batch: int = 200) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.batch = batch
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Publish now rather than at the next poll (after a commit in this process)."""
        self._wake.set()

    async def run_once(self) -> int:
        async with self.db.unit_of_work(write=False) as uow:
            pending = await uow.session.scalar(
                select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None)).limit(1)
            )
        if pending is None:
            return 0
        async with self.db.unit_of_work() as uow:
            s = uow.session
            if not await try_exclusive(s, RELAY_LOCK_KEY):
                return 0
            events = list(
                await s.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.published_at.is_(None))
                    .order_by(OutboxEvent.id)
                    .limit(self.batch)
                )
            )
            # Published before being marked: a crash in between publishes again (at least
            # once); subscribers drop what they have seen by event id.
            for event in events:
                await self.bus.publish(message_of(event))
            await s.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_([e.id for e in events]))
                .values(published_at=self.clock.now())
            )
            await uow.commit()
        return len(events)

    async def run(self, stop: asyncio.Event, interval: float = 0.1) -> None:
        while not stop.is_set():
            try:
                while await self.run_once() >= self.batch:
                    pass
            except Exception as exc:
                log.warning("outbox relay: %s; retrying", exc)
                await asyncio.sleep(min(interval * 10, 2.0))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
