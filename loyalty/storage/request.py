"""One pool checkout and one transaction per API request.

Inside `Database.request()` every unit of work of the request shares one connection and one
session: reads join the transaction that is open (the first read begins it), a writing unit
of work continues it and its `commit()` ends it. On SQLite a read transaction cannot safely
turn into a write one (another writer may have committed since it began), so a write there
ends the reads' transaction and begins `BEGIN IMMEDIATE` on the same connection.

Resolvers of one request run concurrently; the scope serialises their units of work (one
statement at a time on one connection), re-entrantly for nested units of the same task.

A dead connection is not pinged for: the pool swaps one the server has closed at checkout,
and `disconnected` tells the caller that a statement failed because the connection died, so
a request that committed nothing may be run again on a fresh connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from loyalty.storage.unit import UnitOfWork

log = logging.getLogger("trouw.storage")
_current: ContextVar[RequestScope | None] = ContextVar("trouw_request_scope", default=None)


def current_scope() -> RequestScope | None:
    return _current.get()


class RequestScope:
    def __init__(self, engine: AsyncEngine, info: dict[str, Any] | None = None) -> None:
        self.engine = engine
        # What every session of the database shares (`Database.info`: the keyring, for one).
        self.info = info or {}
        self.connection: AsyncConnection | None = None
        self.session: AsyncSession | None = None
        # Whether the open transaction was begun for writing (SQLite's BEGIN IMMEDIATE).
        self.writing = False
        # Whether a COMMIT was sent: after that, running the request again is not safe.
        self.committed = False
        self.disconnected = False
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[object] | None = None
        self._depth = 0

    @classmethod
    @asynccontextmanager
    async def open(
        cls, engine: AsyncEngine, info: dict[str, Any] | None = None
    ) -> AsyncIterator[RequestScope]:
        scope = cls(engine, info)
        token = _current.set(scope)
        try:
            yield scope
        finally:
            _current.reset(token)
            await scope.close()

    @property
    def retryable(self) -> bool:
        """The request failed on a dead connection before it committed anything."""
        return self.disconnected and not self.committed

    async def enter(self) -> AsyncSession:
        task = asyncio.current_task()
        if self._owner is not task or task is None:
            await self._lock.acquire()
            self._owner = task
        self._depth += 1
        if self.session is None:
            try:
                self.connection = await self.engine.connect()
            except BaseException:
                self.leave()
                raise
            self.session = AsyncSession(
                bind=self.connection, expire_on_commit=False, autoflush=False, info=self.info
            )
        return self.session

    def leave(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    async def begin(self, *, write: bool) -> None:
        """Make sure the open transaction may do what the unit of work needs."""
        assert self.session is not None and self.connection is not None
        if self.session.in_transaction():
            if not write or self.writing or self.engine.dialect.name != "sqlite":
                return
            await self.session.close()
        self.writing = write
        await self.connection.execution_options(trouw_write=write)

    async def close(self) -> None:
        session, connection = self.session, self.connection
        self.session = self.connection = None
        try:
            if session is not None:
                await session.close()
            if connection is not None:
                await connection.close()
        except Exception as exc:
            # A resolver cancelled mid-statement (a sibling field failed) can leave the
            # connection unusable: it is dropped from the pool, and the answer stands.
            log.warning("dropping a request's database connection: %s", exc)
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.invalidate()


class ScopedUnitOfWork(UnitOfWork):
    """A unit of work that shares the request's connection and transaction."""

    def __init__(
        self,
        scope: RequestScope,
        write: bool,
        listeners: list[Callable[[], None]] | None = None,
        before_commit: list[Callable[[AsyncSession], Awaitable[None]]] | None = None,
    ) -> None:
        self._scope = scope
        self._write = write
        self._committed = False
        self._listeners = listeners or []
        self._before_commit = before_commit or []

    async def __aenter__(self) -> ScopedUnitOfWork:
        self.session = await self._scope.enter()
        try:
            await self._scope.begin(write=self._write)
        except BaseException:
            self._scope.leave()
            raise
        if self._write:
            # A write reads afresh what earlier reads of the request may have loaded.
            self.session.expunge_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # Undo an uncommitted write, and end a transaction a failed statement left unusable
            # (on PostgreSQL every later statement of the request would fail), leaving what
            # was read usable (detached, not expired).
            if (self._write and not self._committed) or exc is not None:
                self.session.expunge_all()
                await self.session.rollback()
        finally:
            self._scope.leave()

    async def commit(self) -> None:
        for hook in self._before_commit:
            await hook(self.session)
        self._scope.committed = True
        await self.session.commit()
        self._committed = True
        for listener in self._listeners:
            listener()
