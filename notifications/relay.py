"""The outbox relay: publishes committed events to the bus, in order, at least once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from sqlalchemy import select, update

from loyalty.core.clock import Clock
from loyalty.core.events import UnknownEvent, event_type
from loyalty.core.models import OutboxEvent
from loyalty.core.outbox import recorded
from loyalty.core.request_ids import bound_request_id
from loyalty.storage.database import Database
from loyalty.storage.locks import try_exclusive
from notifications.bus import BusMessage, EventBus

log = logging.getLogger("trouw.relay")
# What `message_of` reads of a row.
_MESSAGE_COLUMNS = (
    OutboxEvent.id,
    OutboxEvent.topic,
    OutboxEvent.version,
    OutboxEvent.member_id,
    OutboxEvent.occurred_at,
    OutboxEvent.payload,
    OutboxEvent.request_id,
)
# Any constant works; it only has to be the same in every process of an installation.
RELAY_LOCK_KEY = 0x7472_6F75_7700_0001


def message_of(row: OutboxEvent) -> BusMessage:
    """The bus message of an outbox row, its payload in its type's current version (a row
    already in it, almost every one, is passed on as stored). Raises UnknownEvent for a row
    that no event type reads."""
    current = row.version == event_type(row.topic).version
    return BusMessage(
        event_id=row.id,
        topic=row.topic,
        member_id=row.member_id,
        occurred_at=row.occurred_at.isoformat(),
        payload=row.payload if current else recorded(row).event.to_payload(),
    )


def messages_of(rows: Iterable[OutboxEvent]) -> list[BusMessage]:
    """The rows as bus messages, in order; a row that no event type reads (written by a newer
    version of Trouw, say) is left out and logged: no subscriber could read it either."""
    messages: list[BusMessage] = []
    for row in rows:
        try:
            messages.append(message_of(row))
        except UnknownEvent as exc:
            log.error("outbox event %s is left off the bus: %s", row.id, exc)
    return messages


def _log_published(message: BusMessage, request_id: str | None) -> None:
    with bound_request_id(request_id):
        log.info(
            "event %s (%s) published",
            message.event_id,
            message.topic,
            extra={"event_id": message.event_id, "topic": message.topic},
        )


class OutboxRelay:
    """Any number of processes may run a relay: on PostgreSQL an advisory lock lets one
    publish at a time (so events leave in commit order); on SQLite the write lock does."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        batch: int = 1000,
        observers: Sequence[Callable[[BusMessage], None]] = (),
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.batch = batch
        # Told of each event once it is published and marked (metrics count them there).
        self.observers = tuple(observers)
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
            # The columns, not ORM objects: a burst of thousands of events (a change that
            # reaches every member) is read at a fraction of the cost.
            rows = (
                await s.execute(
                    select(*_MESSAGE_COLUMNS)
                    .where(OutboxEvent.published_at.is_(None))
                    .order_by(OutboxEvent.id)
                    .limit(self.batch)
                )
            ).all()
            # Published before being marked: a crash in between publishes again (at least
            # once); subscribers drop what they have seen by event id.
            messages = messages_of(cast("list[OutboxEvent]", rows))
            requests = {row.id: row.request_id for row in rows}
            for message in messages:
                await self.bus.publish(message)
            await s.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_([row.id for row in rows]))
                .values(published_at=self.clock.now())
            )
            await uow.commit()
        for message in messages:
            _log_published(message, requests.get(message.event_id))
            for observe in self.observers:
                observe(message)
        return len(rows)

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
