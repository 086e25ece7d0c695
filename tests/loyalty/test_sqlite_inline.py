"""SQLite's reads run at once on the event loop's thread; what may wait for the write lock
still runs on aiosqlite's thread (`loyalty.storage.sqlite_inline`), and a writer waiting for
the lock does not stop the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, event, select, text

from loyalty.auth.models import RateLimitCounter
from loyalty.core.clock import FixedClock
from loyalty.storage import direct
from loyalty.storage.database import Database
from loyalty.storage.sqlite_inline import InlineReadsConnection


async def _traced(db: Database, seen: list[tuple[str, bool]]) -> None:
    """Record each statement SQLite runs on the pool's connection, and whether it ran on the
    event loop's thread."""
    loop_thread = threading.get_ident()
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, InlineReadsConnection)
        sqlite = driver._conn

        def trace(statement: str) -> None:
            seen.append((statement.split()[0].upper(), threading.get_ident() == loop_thread))

        sqlite.set_trace_callback(trace)


async def test_reads_stay_on_the_loop_and_writes_do_not(db: Database, clock: FixedClock) -> None:
    if not db.is_sqlite:
        pytest.skip("aiosqlite's thread is SQLite's")
    await db.engine.dispose()  # one pooled connection, the traced one
    seen: list[tuple[str, bool]] = []
    await _traced(db, seen)
    async with db.unit_of_work() as uow:
        uow.session.add(RateLimitCounter(bucket="inline", window_start=clock.now(), count=1))
        await uow.commit()
    async with db.unit_of_work(write=False) as uow:
        count = await uow.session.scalar(select(RateLimitCounter.count))
    assert count == 1
    writes = seen[: seen.index(("COMMIT", False)) + 1]
    reads = seen[len(writes) :]
    assert writes[0] == ("BEGIN", False) and ("INSERT", False) in writes
    assert [s for s, at_once in reads if not at_once] == [], reads
    assert ("SELECT", True) in reads and reads[0] == ("BEGIN", True)


async def test_a_waiting_writer_does_not_stop_the_loop(db: Database, tmp_path: Path) -> None:
    """Another process holds the write lock: the writer waits on aiosqlite's thread while
    the loop goes on, and a reader is answered meanwhile."""
    if not db.is_sqlite:
        pytest.skip("SQLite's write lock")
    path = db.url.database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> None:
        async with db.unit_of_work() as uow:
            await uow.session.execute(text("SELECT 1"))
            await uow.commit()

    ticker = asyncio.create_task(tick())
    writer = asyncio.create_task(write())
    try:
        async with db.unit_of_work(write=False) as uow:
            assert await uow.session.scalar(text("SELECT 2")) == 2
        before = ticks
        while ticks < before + 5:
            await asyncio.sleep(0.01)  # the loop runs while the writer waits
        assert not writer.done()
    finally:
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(writer, timeout=30)
        ticker.cancel()


async def test_a_direct_read_answers_as_the_session_does(db: Database, clock: FixedClock) -> None:
    """`loyalty.storage.direct` reads the same rows, with the same types (aware datetimes,
    expanded IN lists, literals bound in the statement), as the session would: on SQLite
    straight from the connection, on PostgreSQL through the session."""
    async with db.unit_of_work() as uow:
        # "d" starts exactly at `after`: not after it (bound as the engine binds a datetime).
        for bucket, count in (("a", 1), ("b", 2), ("c", 3), ("d", 0)):
            window = clock.now() + timedelta(minutes=count)
            uow.session.add(RateLimitCounter(bucket=bucket, window_start=window, count=count))
        await uow.commit()
    statement = (
        select(RateLimitCounter.bucket, RateLimitCounter.window_start, RateLimitCounter.count)
        .where(
            RateLimitCounter.bucket.in_(bindparam("buckets", expanding=True)),
            RateLimitCounter.window_start > bindparam("after"),
            RateLimitCounter.count < 10,
        )
        .order_by(RateLimitCounter.bucket)
    )
    given = {"buckets": ["a", "c", "d", "x"], "after": clock.now()}
    async with db.unit_of_work(write=False) as uow:
        found = await direct.rows(uow.session, statement, given)
        engine = (await uow.session.execute(statement, given)).all()
        none = await direct.first(uow.session, statement, {**given, "buckets": ["x"]})
    assert [tuple(r) for r in found] == [tuple(r) for r in engine]
    assert [r.bucket for r in found] == ["a", "c"] and none is None
    assert found[0].window_start == clock.now() + timedelta(minutes=1)
    assert found[0].window_start.tzinfo is not None


async def test_a_direct_read_is_seen_by_whoever_watches_the_engine(db: Database) -> None:
    """Tracing and the tests that count statements listen to the engine: while they do, a
    direct read goes through it."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.unit_of_work(write=False) as uow:
            assert await direct.scalar(uow.session, select(bindparam("one", 1)), {}) == 1
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert any(s.startswith("SELECT ?") or s.startswith("SELECT $1") for s in seen), seen
