"""Engines, sessions and the unit of work, on the embedded SQLite default or on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from loyalty.storage import sqlite_inline
from loyalty.storage.request import RequestScope, ScopedUnitOfWork, current_scope
from loyalty.storage.unit import UnitOfWork

__all__ = ["Database", "UnitOfWork", "insert_for", "normalise_url"]

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
    @event.listens_for(engine.sync_engine, "do_connect")
    def _reads_at_once(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        # aiosqlite's connection, with reads run without the hop to its thread.
        params["async_creator_fn"] = sqlite_inline.connect

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


def _configure_disconnects(engine: AsyncEngine) -> None:
    """No ping per checkout: a connection the server already closed (asyncpg notices the
    socket closing without a round trip) is swapped for a fresh one at checkout, and one that
    fails later is invalidated by SQLAlchemy on the error (`is_disconnect`); the request scope
    then runs the request once more on a fresh connection (`loyalty.storage.request`)."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: PoolProxiedConnection) -> None:
        raw = getattr(dbapi_connection, "_connection", None)
        is_closed = getattr(raw, "is_closed", None)
        if callable(is_closed) and is_closed():
            raise exc.DisconnectionError("the server closed this connection")

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: Any) -> None:
        scope = current_scope()
        if context.is_disconnect and scope is not None:
            scope.disconnected = True


class Database:
    def __init__(self, url: str | URL, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_postgres:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        _configure_disconnects(self.engine)
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

    @asynccontextmanager
    async def request(self) -> AsyncIterator[RequestScope]:
        """One connection and, as far as the database allows, one transaction for everything
        the units of work inside do (an API request): see `loyalty.storage.request`."""
        async with RequestScope.open(self.engine, {"database": self.info}) as scope:
            yield scope

    def unit_of_work(self, *, write: bool = True) -> UnitOfWork:
        scope = current_scope()
        if scope is not None and scope.engine is self.engine:
            if not write:
                return ScopedUnitOfWork(scope, write=False)
            return ScopedUnitOfWork(scope, True, self.commit_listeners, self.before_commit)
        if not write:
            return UnitOfWork(self._readers())
        return UnitOfWork(self._writers(), self.commit_listeners, self.before_commit)

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


def insert_for(s: AsyncSession) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT (PostgreSQL and SQLite)."""
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
