"""Test fixtures: the same suite runs on SQLite and on PostgreSQL.

PostgreSQL (127.0.0.1:5432, user postgres, or TROUW_TEST_POSTGRES_URL) must be reachable when
CI=true; elsewhere its tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from api.settings import Settings
from api.wiring import wire_database
from loyalty.areas import metadata
from loyalty.core.clock import FixedClock
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade
from tests.support.server import ServerHandle, start_server

POSTGRES_ADMIN_URL = os.environ.get(
    "TROUW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]


def _postgres_unavailable() -> str | None:
    async def probe() -> None:
        db = Database(POSTGRES_ADMIN_URL)
        try:
            await asyncio.wait_for(db.ping(), timeout=5)
        finally:
            await db.dispose()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({exc.__class__.__name__})"
    return None


async def _admin(statement: str) -> None:
    db = Database(POSTGRES_ADMIN_URL)
    try:
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await db.dispose()


def _fresh_database(backend: str, tmp: Path, *, migrated: bool = True) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'trouw.db'}"
        asyncio.run(_migrate(url))
        yield url
        return
    reason = _postgres_unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
        pytest.skip(reason)
    name = f"trouw_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        if migrated:
            asyncio.run(_migrate(url))
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each backend, for the whole session."""
    yield from _fresh_database(request.param, tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(params=BACKENDS)
def private_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of each backend for this test alone, for tests that run servers of their
    own: the session's shared test server (and its outbox relay) must not touch it."""
    yield from _fresh_database(request.param, tmp_path)


@pytest.fixture
def unmigrated_postgres(tmp_path: Path) -> Iterator[str]:
    """An empty PostgreSQL database without Trouw's schema."""
    yield from _fresh_database("postgresql", tmp_path, migrated=False)


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


async def _empty(db: Database) -> None:
    tables = [t.name for t in reversed(metadata().sorted_tables)]
    async with db.engine.execution_options(trouw_write=True).begin() as conn:
        if db.is_postgres:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def clean_database(database_url: str) -> str:
    """The session's database of this backend, emptied before the test."""

    async def empty() -> None:
        db = Database(database_url)
        try:
            await _empty(db)
        finally:
            await db.dispose()

    asyncio.run(empty())
    return database_url


@asynccontextmanager
async def wired_database(url: str) -> AsyncIterator[Database]:
    """The database at `url`, wired as the composition root wires it; disposed after."""
    database = Database(url)
    wire_database(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def db(clean_database: str) -> AsyncIterator[Database]:
    async with wired_database(clean_database) as database:
        yield database


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": "test-signing-key-" + "x" * 32,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        # Worker tests run their own workers on the same database; keep the server out of it.
        "worker_in_serve": False,
        # Short, so that tests of revocation wait little (the default is 5 s).
        "api_key_cache_seconds": 0.5,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def server_clock() -> FixedClock:
    """The clock of the shared test server; tests may move it (it is reset per test)."""
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(scope="session")
def _servers(database_url: str, server_clock: FixedClock) -> Iterator[ServerHandle]:
    handle = start_server(make_settings(database_url), server_clock)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def server(_servers: ServerHandle, clean_database: str, server_clock: FixedClock) -> ServerHandle:
    """A real uvicorn server on 127.0.0.1 over an emptied database of this backend."""
    server_clock.set(datetime.now(UTC).replace(microsecond=0))
    return _servers


CONTRACT_DIR = Path(
    os.environ.get(
        "TROUW_CONTRACT_DIR", Path(__file__).resolve().parents[2] / "shared" / "contract"
    )
)


REDIS_URL = os.environ.get("TROUW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared Redis server; tests keep to their own key prefix."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        reason = f"Redis at {REDIS_URL} is not reachable ({exc.__class__.__name__})"
        if IN_CI:
            pytest.fail(f"{reason}; CI must run the Redis tests")
        pytest.skip(reason)
    return REDIS_URL
