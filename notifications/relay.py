"""The outbox relay: publishes committed events to the bus, in order, at least once.

One relay publishes at a time across an installation, so events leave in commit order and
none twice: it reads, publishes and marks a batch in one write transaction, which on
PostgreSQL holds an advisory lock and on SQLite the write lock. Marking in the transaction
that read keeps the moment between publishing and marking short: on PostgreSQL a subscriber
that starts in it replays only what is marked published (`notifications.feed`), and hears on
the bus only what is published after it listens; on SQLite its replay takes every committed
event, so that moment costs it nothing.

The relay wakes at once after a commit in its own process (`poke`). A commit in another
process is noticed by polling: on SQLite `PRAGMA data_version`, which costs microseconds and
no lock, every `WATCH_INTERVAL`; on PostgreSQL a look at the outbox every `interval`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

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
# SQLite: how often the relay asks whether another process committed.
WATCH_INTERVAL = 0.01
# SQLite: the relay looks at the outbox itself after this long without a commit seen.
QUIET = 1.0


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


def sqlite_file(db: Database) -> Path | None:
    """The file of a SQLite database (None for PostgreSQL or a database in memory)."""
    name = db.url.database if db.is_sqlite else None
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


class CommitWatch:
    """Whether any connection to a SQLite file committed since the last look: `PRAGMA
    data_version` on a connection of its own. Asked synchronously: in WAL mode it waits for
    no lock (a busy database counts as changed rather than wait)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        self._seen: Any = None

    def changed(self) -> bool:
        try:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return True
        changed, self._seen = version != self._seen, version
        return changed

    def close(self) -> None:
        self._conn.close()


class OutboxRelay:
    """Any number of processes may run a relay; one publishes at a time (see above)."""

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
        self._file = sqlite_file(db)

    def poke(self) -> None:
        """Publish now rather than at the next poll (after a commit in this process)."""
        self._wake.set()

    async def run_once(self) -> int:
        """Publish what is waiting (up to `batch` events);
        how many were published, 0 if none waited or another relay had the turn."""
        async with self.db.unit_of_work(write=False) as uow:
            pending = await uow.session.scalar(
                select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None)).limit(1)
            )
        if pending is None:
            return 0
        async with self.db.unit_of_work() as uow:
            if not await try_exclusive(uow.session, RELAY_LOCK_KEY):
                return 0
            rows = await self._read(uow.session, limit=self.batch)
            messages = await self._publish(rows)
            await self._mark(uow.session, [row.id for row in rows])
            await uow.commit()
        self._published(messages, rows)
        return len(rows)

    async def _read(self, s: AsyncSession, limit: int) -> list[Any]:
        # The columns, not ORM objects: a burst of thousands of events (a change that
        # reaches every member) is read at a fraction of the cost.
        result = await s.execute(
            select(*_MESSAGE_COLUMNS)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
        return list(result.all())

    async def _publish(self, rows: list[Any]) -> list[BusMessage]:
        # Published before being marked: a crash in between publishes again (at least
        # once); subscribers drop what they have seen by event id.
        messages = messages_of(cast("list[OutboxEvent]", rows))
        await self.bus.publish_many(messages)
        return messages

    async def _mark(self, s: AsyncSession, ids: list[int]) -> None:
        for start in range(0, len(ids), self.batch):
            await s.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(ids[start : start + self.batch]))
                .values(published_at=self.clock.now())
            )

    def _published(self, messages: list[BusMessage], rows: list[Any]) -> None:
        requests = {row.id: row.request_id for row in rows}
        logging_each = log.isEnabledFor(logging.INFO)  # off, a burst skips the request ids
        for message in messages:
            if logging_each:
                _log_published(message, requests.get(message.event_id))
            for observe in self.observers:
                observe(message)

    async def run(self, stop: asyncio.Event, interval: float = 0.1) -> None:
        watch = CommitWatch(self._file) if self._file is not None else None
        try:
            while not stop.is_set():
                if watch is not None:
                    watch.changed()  # before reading: a commit from now on wakes the relay
                try:
                    while await self.run_once() >= self.batch:
                        pass
                except Exception as exc:
                    log.warning("outbox relay: %s; retrying", exc)
                    await asyncio.sleep(min(interval * 10, 2.0))
                await self._idle(stop, interval, watch)
        finally:
            if watch is not None:
                watch.close()

    async def _idle(self, stop: asyncio.Event, interval: float, watch: CommitWatch | None) -> None:
        """Until poked, or another process committed (SQLite), or `interval` passed (on
        SQLite `QUIET`, in case a commit went unseen)."""
        self._wake.clear()
        if watch is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + max(interval, QUIET)
        while not (stop.is_set() or self._wake.is_set()) and loop.time() < until:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=WATCH_INTERVAL)
            if watch.changed():
                return
