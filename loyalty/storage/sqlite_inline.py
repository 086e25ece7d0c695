"""SQLite reads without the hop to aiosqlite's thread.

aiosqlite runs every call (make a cursor, execute, fetch, close, BEGIN, ROLLBACK) on a
thread of its own and wakes the event loop with the answer: for an indexed read of a few
rows that hand-off, and the contest for the GIL that follows it, costs many times the read
itself (a `Home` request made about 250 of them). Under WAL a reader never waits for a lock,
so a read done at once on the event loop's thread blocks nothing but itself. This
connection does exactly that: cursor calls, deferred `BEGIN`, `SELECT`, and the end of a
transaction that wrote nothing run at once; anything that may wait for SQLite's write lock,
for the disk, or for a busy handler (`BEGIN IMMEDIATE`, every other statement, and the end of
a transaction that took the write lock) still goes to aiosqlite's thread. Same connection,
same transaction: what a request reads is what it read before, only sooner.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite

# How a statement starts that reads and never waits: SQLite takes no lock for a deferred
# BEGIN, and a SELECT under WAL reads its snapshot without waiting for writers.
_BEGIN_READ = ("BEGIN", "BEGIN DEFERRED", "BEGIN TRANSACTION", "BEGIN DEFERRED TRANSACTION")
_ENDS = ("COMMIT", "ROLLBACK", "END")


class InlineReadsConnection(aiosqlite.Connection):
    """aiosqlite's connection, with reads run at once (see the module's docstring)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int):
        super().__init__(connector, iter_chunk_size)
        # Whether the open transaction may hold (or want) the write lock: from the first
        # statement that is not a read until COMMIT or ROLLBACK.
        self._writing = False
        # Calls handed to aiosqlite's thread, and those it finished (each counter is written
        # by one thread only): nothing runs at once while the thread still works on one, such
        # as a statement whose awaiting task was cancelled.
        self._sent = 0
        self._done = 0

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            return await super()._execute(fn, *args, **kwargs)  # closed: aiosqlite says so
        if self._at_once(fn, args) and self._sent == self._done:
            return fn(*args, **kwargs)

        def counted() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self._done += 1

        self._sent += 1
        return await super()._execute(counted)

    def _at_once(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
        name = getattr(fn, "__name__", "")
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, sqlite3.Cursor) and name in ("executemany", "executescript"):
            self._writing = True
            return False
        if isinstance(owner, sqlite3.Cursor) and name != "execute":
            return True  # fetch…, close
        if isinstance(owner, sqlite3.Connection) and name in ("commit", "rollback"):
            return self._ended()
        if name == "cursor":
            return True
        if name != "execute" or not args or not isinstance(args[0], str):
            return False
        statement = args[0].strip().upper()
        if statement.startswith(_ENDS):
            return self._ended()
        if not self._writing and (statement.startswith("SELECT") or statement in _BEGIN_READ):
            return True
        self._writing = True
        return False

    def read_now(self, sql: str, values: Sequence[Any]) -> list[Any] | None:
        """The rows of a SELECT, read at once in the open transaction; None when it may have
        written (the caller then goes through the engine)."""
        if self._writing or self._connection is None or self._sent != self._done:
            return None
        cursor = self._connection.execute(sql, values)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    def _ended(self) -> bool:
        """A transaction ends: at once unless it may have written."""
        writing, self._writing = self._writing, False
        return not writing


def connect(database: str, *, iter_chunk_size: int = 64, **kwargs: Any) -> InlineReadsConnection:
    """As `aiosqlite.connect`, for SQLAlchemy's `async_creator_fn`; the sqlite3 connection is
    used from the event loop's thread as well as aiosqlite's (never at the same time)."""
    kwargs["check_same_thread"] = False

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)

    connection = InlineReadsConnection(connector, iter_chunk_size)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own
    return connection
