"""Engines, sessions and the unit of work, on the embedded SQLite default or on PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str | URL) -> URL:
    """Accept the usual synchronous spellings and pick the async driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in (
        "postgres",
        "postgresql",
        "postgresql+psycopg2",
        "postgresql+psycopg",
    ):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: "
            "use sqlite+aiosqlite:///path or postgresql+asyncpg://…"
        )
    return parsed


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself instead of the driver's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted content is overwritten, so an erased member's key does not linger in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so two writers never deadlock on an upgrade
        # from a read lock; readers stay concurrent under WAL.
        if conn.get_execution_options().get("trouw_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    def __init__(self, url: str | URL, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if self.is_postgres:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        # Run inside every writing unit of work just before it commits (the in-transaction
        # reactions), and after every committed write (e.g. to wake the outbox relay at once).
        self.before_commit: list[Callable[[AsyncSession], Awaitable[None]]] = []
        self.commit_listeners: list[Callable[[], None]] = []
        # Shared with every session as `session.info["database"]` (the keyring, for one).
        self.info: dict[str, Any] = {}
        shared = {"database": self.info}
        self._readers = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False, info=shared
        )
        self._writers = async_sessionmaker(
            self.engine.execution_options(trouw_write=True),
            expire_on_commit=False,
            autoflush=False,
            info=shared,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def unit_of_work(self, *, write: bool = True) -> UnitOfWork:
        if not write:
            return UnitOfWork(self._readers())
        return UnitOfWork(self._writers(), self.commit_listeners, self.before_commit)

    def reader(self) -> AsyncSession:
        """A session for reads only (GraphQL queries, DataLoaders); never committed."""
        return self._readers()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file and empty it, so that
        content deleted (and, with `secure_delete`, overwritten) leaves no older copy in the
        log. Nothing to do on PostgreSQL."""
        if self.is_sqlite:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    async def dispose(self) -> None:
        await self.engine.dispose()


class UnitOfWork:
    """One transaction. Nothing is written unless `commit()` is called; leaving the block
    without it rolls everything back."""

    def __init__(
        self,
        session: AsyncSession,
        listeners: list[Callable[[], None]] | None = None,
        before_commit: list[Callable[[AsyncSession], Awaitable[None]]] | None = None,
    ) -> None:
        self.session = session
        self._listeners = listeners or []
        self._before_commit = before_commit or []

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed; unlike rollback() it leaves the
        # objects read in this transaction usable (detached, not expired) by the caller.
        await self.session.close()

    async def commit(self) -> None:
        for hook in self._before_commit:
            await hook(self.session)
        await self.session.commit()
        for listener in self._listeners:
            listener()


def insert_for(s: AsyncSession) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT (PostgreSQL and SQLite)."""
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
