"""Storage: migrations, the UTC column type, the unit of work, SQLite's locking, and the
instance secrets, on SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from loyalty.areas import metadata
from loyalty.auth.models import ApiKey, InstanceSecret, RateLimitCounter
from loyalty.auth.secrets import instance_secret
from loyalty.core.clock import FixedClock
from loyalty.members.models import Member, MemberConsent
from loyalty.storage.database import SQLITE_BUSY_TIMEOUT_MS, Database, normalise_url
from loyalty.storage.migrate import MIGRATIONS, draft, is_current, next_revision, upgrade
from tests.loyalty.services import add_member


async def _admin(db: Database, statement: str) -> None:
    admin = Database(db.url.set(database="postgres"))
    try:
        async with admin.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


@pytest.fixture
async def fresh(db: Database, tmp_path: Path) -> AsyncIterator[Database]:
    """A brand-new, never migrated database of the same backend as `db`."""
    if db.is_sqlite:
        fresh_db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
        try:
            yield fresh_db
        finally:
            await fresh_db.dispose()
        return
    name = f"trouw_fresh_{uuid.uuid4().hex[:10]}"
    await _admin(db, f'CREATE DATABASE "{name}"')
    fresh_db = Database(db.url.set(database=name))
    try:
        yield fresh_db
    finally:
        await fresh_db.dispose()
        await _admin(db, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- migrations ---------------------------------------------------------------------------


async def test_migrated_database_is_current(db: Database) -> None:
    assert await is_current(db)


async def test_upgrade_creates_every_table_and_twice_is_harmless(fresh: Database) -> None:
    assert not await is_current(fresh)
    await upgrade(fresh)
    assert await is_current(fresh)

    async with fresh.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert {t.name for t in metadata().sorted_tables} <= tables

    now = datetime.now(UTC)
    async with fresh.unit_of_work() as uow:
        uow.session.add(InstanceSecret(name="kept", value="v", created_at=now))
        await uow.commit()
    await upgrade(fresh)  # a second run finds nothing to do and touches no data
    assert await is_current(fresh)
    async with fresh.unit_of_work(write=False) as uow:
        kept = await uow.session.get(InstanceSecret, "kept")
    assert kept is not None and kept.value == "v"


async def test_schema_matches_the_models(db: Database) -> None:
    """The migrations create what the models describe (no autogenerate diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def diff(connection):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(connection), metadata())

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


def _assigned(path: Path, name: str) -> object:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value is not None
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} does not set {name}")


def test_migrations_are_one_numbered_chain() -> None:
    """`NNNN_short_description.py` with revision NNNN, each revising the one before it."""
    files = sorted(MIGRATIONS.glob("versions/*.py"))
    assert files
    previous: str | None = None
    for number, path in enumerate(files, start=1):
        match = re.fullmatch(r"(\d{4})_[a-z0-9]+(_[a-z0-9]+)*\.py", path.name)
        assert match, f"{path.name}: name it NNNN_short_description.py"
        assert match.group(1) == f"{number:04d}", f"{path.name}: numbers run 0001, 0002, ..."
        assert _assigned(path, "revision") == match.group(1), path.name
        assert _assigned(path, "down_revision") == previous, path.name
        previous = match.group(1)


async def test_draft_writes_the_next_numbered_migration(tmp_path: Path) -> None:
    """With the models and migrations in step, the draft holds nothing to do."""
    path = await draft("Say hello", into=tmp_path)
    number = next_revision()
    assert path.parent == tmp_path and path.name == f"{number}_say_hello.py"
    assert _assigned(path, "revision") == number
    assert _assigned(path, "down_revision") == f"{int(number) - 1:04d}"
    upgrade_body = next(
        node
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade"
    ).body
    assert [type(statement) for statement in upgrade_body] == [ast.Expr, ast.Pass]


def test_normalise_url_picks_async_drivers() -> None:
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert normalise_url("postgresql://u@h/d").drivername == "postgresql+asyncpg"
    assert normalise_url("postgres://u@h/d").drivername == "postgresql+asyncpg"
    assert normalise_url("postgresql+asyncpg://u@h/d").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="unsupported"):
        normalise_url("mysql://u@h/d")


# --- UTCDateTime --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=UTC),
        datetime(2026, 3, 29, 3, 0, 0, 654321, tzinfo=ZoneInfo("Europe/Amsterdam")),
        datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Amsterdam")),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Amsterdam")),
        datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2025, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-11))),
    ],
    ids=[
        "utc",
        "amsterdam-summer",
        "amsterdam-first-0230",
        "amsterdam-second-0230",
        "plus-0530",
        "minus-11",
    ],
)
async def test_utc_datetime_round_trips_as_aware_utc(db: Database, moment: datetime) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add(InstanceSecret(name="t", value="v", created_at=moment))
        await uow.commit()
    async with db.unit_of_work(write=False) as uow:
        stored = await uow.session.scalar(select(InstanceSecret.created_at))
    assert stored is not None
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    # The same instant (compared by timestamp: Python never calls a time in a repeated
    # hour equal to one in another zone).
    assert stored.timestamp() == moment.timestamp()
    assert stored.replace(tzinfo=None) == moment.astimezone(UTC).replace(tzinfo=None)


async def test_utc_datetime_sorts_and_compares_by_instant(db: Database) -> None:
    base = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    # Written in zones whose wall-clock order is the opposite of the instants' order.
    moments = {
        "a": base.astimezone(timezone(timedelta(hours=-10))),  # 02:00 local, earliest
        "b": (base + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-12))),
        "c": (base + timedelta(hours=2)).astimezone(timezone(timedelta(hours=-14))),
    }
    async with db.unit_of_work() as uow:
        for name, moment in moments.items():
            uow.session.add(InstanceSecret(name=name, value=name, created_at=moment))
        await uow.commit()
    async with db.unit_of_work(write=False) as uow:
        ordered = list(
            await uow.session.scalars(
                select(InstanceSecret.name).order_by(InstanceSecret.created_at)
            )
        )
        later = list(
            await uow.session.scalars(
                select(InstanceSecret.name)
                .where(InstanceSecret.created_at > base + timedelta(minutes=30))
                .order_by(InstanceSecret.name)
            )
        )
    assert ordered == ["a", "b", "c"]
    assert later == ["b", "c"]


async def test_utc_datetime_refuses_naive_datetimes(db: Database) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add(InstanceSecret(name="naive", value="v", created_at=datetime(2026, 1, 1)))
        with pytest.raises(StatementError) as caught:
            await uow.session.flush()
    assert isinstance(caught.value.orig, ValueError)
    assert "naive" in str(caught.value.orig)
    async with db.unit_of_work(write=False) as uow:
        with pytest.raises(StatementError):
            await uow.session.scalar(
                select(InstanceSecret).where(InstanceSecret.created_at < datetime(2026, 1, 1))
            )
        assert await uow.session.scalar(select(func.count()).select_from(InstanceSecret)) == 0


async def test_utc_datetime_keeps_null(db: Database, clock: FixedClock) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add(
            ApiKey(key_id="k1", name="n", scopes=["pos"], secret_hash="h", created_at=clock.now())
        )
        await uow.commit()
    async with db.unit_of_work(write=False) as uow:
        key = await uow.session.scalar(select(ApiKey))
    assert key is not None
    assert key.revoked_at is None and key.last_used_at is None
    assert key.created_at == clock.now()


# --- the unit of work ---------------------------------------------------------------------


async def _member_count(db: Database) -> int:
    async with db.unit_of_work(write=False) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Member)) or 0)


async def test_unit_of_work_without_commit_writes_nothing(db: Database, clock: FixedClock) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add(
            Member(
                member_number="1000000009",
                card_barcode="TRWX",
                joined_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        await uow.session.flush()  # sent to the database, but never committed
        assert await uow.session.scalar(select(func.count()).select_from(Member)) == 1
    assert await _member_count(db) == 0


async def test_unit_of_work_left_by_an_exception_writes_nothing(
    db: Database, clock: FixedClock
) -> None:
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            uow.session.add(InstanceSecret(name="x", value="v", created_at=clock.now()))
            await uow.session.flush()
            raise RuntimeError("boom")
    async with db.unit_of_work(write=False) as uow:
        assert await uow.session.get(InstanceSecret, "x") is None


async def test_committed_work_is_seen_by_the_next_unit(db: Database, clock: FixedClock) -> None:
    member = await add_member(db, clock, "seen@example.com")
    assert await _member_count(db) == 1
    async with db.unit_of_work(write=False) as uow:
        again = await uow.session.get(Member, member.id)
    assert again is not None and again.email == "seen@example.com"


async def test_objects_stay_readable_after_the_unit_closes(db: Database, clock: FixedClock) -> None:
    created = await add_member(
        db, clock, "read@example.com", profile={"first_name": "Ria", "interests": ["koffie"]}
    )
    # Read, and leave without committing.
    async with db.unit_of_work(write=False) as uow:
        member = await uow.session.get(Member, created.id)
    assert member is not None
    assert member.email == "read@example.com"
    assert member.first_name == "Ria"
    assert member.interests == ["koffie"]
    assert member.joined_at == clock.now()
    # Read in a writing unit that commits: no expiry on commit either.
    async with db.unit_of_work() as uow:
        written = await uow.session.get(Member, created.id)
        assert written is not None
        written.last_name = "Smit"
        await uow.commit()
    assert written.last_name == "Smit"
    assert written.member_number == created.member_number
    # The object returned by the helper itself is readable too.
    assert created.id == member.id and created.card_barcode == member.card_barcode


async def test_foreign_keys_are_enforced(db: Database, clock: FixedClock) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add(
            MemberConsent(member_id=987654, channel="email", granted=True, updated_at=clock.now())
        )
        with pytest.raises(IntegrityError):
            await uow.session.flush()


async def test_deleting_a_member_cascades_to_consents(db: Database, clock: FixedClock) -> None:
    member = await add_member(db, clock)
    async with db.unit_of_work() as uow:
        await uow.session.execute(text("DELETE FROM members WHERE id = :id"), {"id": member.id})
        await uow.commit()
    async with db.unit_of_work(write=False) as uow:
        left = await uow.session.scalar(select(func.count()).select_from(MemberConsent))
    assert left == 0


# --- SQLite specifics and write serialisation ---------------------------------------------


async def test_sqlite_connection_settings(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite pragmas")
    async with db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        assert busy == SQLITE_BUSY_TIMEOUT_MS
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1


async def _add_counter(db: Database, clock: FixedClock) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add(RateLimitCounter(bucket="counter", window_start=clock.now(), count=0))
        await uow.commit()


async def _read_counter(db: Database) -> int:
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.get(RateLimitCounter, "counter")
    assert row is not None
    return row.count


async def test_concurrent_read_modify_write_units_serialise(
    db: Database, clock: FixedClock
) -> None:
    """Each task reads the counter, waits a little, then writes it + 1. Without serialised
    writers two tasks read the same value and one increment is lost. SQLite gets this from
    BEGIN IMMEDIATE (FOR UPDATE is not rendered there); PostgreSQL from SELECT … FOR UPDATE."""
    await _add_counter(db, clock)

    async def increment() -> None:
        async with db.unit_of_work() as uow:
            value = await uow.session.scalar(
                select(RateLimitCounter.count)
                .where(RateLimitCounter.bucket == "counter")
                .with_for_update()
            )
            assert value is not None
            await asyncio.sleep(0.05)
            await uow.session.execute(
                RateLimitCounter.__table__.update()
                .where(RateLimitCounter.bucket == "counter")
                .values(count=value + 1)
            )
            await uow.commit()

    await asyncio.gather(*(increment() for _ in range(5)))
    assert await _read_counter(db) == 5


async def test_sqlite_writers_serialise_without_for_update(db: Database, clock: FixedClock) -> None:
    """On SQLite a plain read inside a write unit already holds the write lock."""
    if not db.is_sqlite:
        pytest.skip("BEGIN IMMEDIATE is SQLite's; PostgreSQL needs FOR UPDATE (test above)")
    await _add_counter(db, clock)

    async def increment() -> None:
        async with db.unit_of_work() as uow:
            row = await uow.session.get(RateLimitCounter, "counter")
            assert row is not None
            seen = row.count
            await asyncio.sleep(0.05)
            row.count = seen + 1
            await uow.commit()

    await asyncio.gather(increment(), increment(), increment())
    assert await _read_counter(db) == 3


async def test_readers_are_not_blocked_by_an_open_writer(db: Database, clock: FixedClock) -> None:
    await _add_counter(db, clock)
    writer_has_written = asyncio.Event()
    reader_done = asyncio.Event()

    async def writer() -> None:
        async with db.unit_of_work() as uow:
            row = await uow.session.get(RateLimitCounter, "counter")
            assert row is not None
            row.count = 42
            await uow.session.flush()
            writer_has_written.set()
            await asyncio.wait_for(reader_done.wait(), timeout=10)
            await uow.commit()

    async def reader() -> int:
        await writer_has_written.wait()
        try:
            # Under WAL (and MVCC) the reader sees the last committed value at once.
            return await asyncio.wait_for(_read_counter(db), timeout=5)
        finally:
            reader_done.set()

    _, seen = await asyncio.gather(writer(), reader())
    assert seen == 0
    assert await _read_counter(db) == 42


# --- instance secrets ---------------------------------------------------------------------


async def test_instance_secret_is_created_once_and_kept(db: Database, clock: FixedClock) -> None:
    first = await instance_secret(db, "signing", clock.now())
    assert len(first) >= 48
    clock.advance(timedelta(days=1))
    assert await instance_secret(db, "signing", clock.now()) == first
    other = await instance_secret(db, "other", clock.now())
    assert other != first
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.get(InstanceSecret, "signing")
    assert row is not None and row.value == first
    assert row.created_at == clock.now() - timedelta(days=1)


async def test_instance_secret_is_shared_by_concurrent_callers(
    db: Database, clock: FixedClock
) -> None:
    values = await asyncio.gather(*(instance_secret(db, "signing", clock.now()) for _ in range(8)))
    assert len(set(values)) == 1
    # A second engine stands for a second process of the same installation.
    other_process = Database(db.url)
    try:
        assert await instance_secret(other_process, "signing", clock.now()) == values[0]
    finally:
        await other_process.dispose()
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalar(select(func.count()).select_from(InstanceSecret))
    assert rows == 1
