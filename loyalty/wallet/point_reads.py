"""One-row reads by a unique key for the PassKit web service's hottest request: Apple Wallet
asking for a pass that has not changed (answered 304).

On the embedded SQLite default a read through aiosqlite costs a dozen hops to its thread and
back (checkout, BEGIN, cursor, execute, fetch, close, rollback), far more than the lookup
itself. Here the statement runs at once on a read-only connection of SQLite's own: an indexed
lookup of one row under WAL, where readers never wait for writers, takes microseconds. The
statement is a SQLAlchemy Core select, compiled once (`loyalty.storage.direct`), and its
values pass through the columns' own processors, so a row reads as it would through the
engine. If SQLite is
busy all the same (it does not wait), or on PostgreSQL (asyncpg does not hop threads), the
read goes through the engine as usual.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from loyalty.storage.database import Database
from loyalty.storage.direct import AnySelect, compiled


class PointReads:
    """Runs one-row Core selects synchronously on a read-only SQLite connection; None from
    `first` means "ask the engine" (not SQLite, or SQLite was busy)."""

    def __init__(self, db: Database) -> None:
        database = db.url.database if db.is_sqlite else None
        self._path = database if database and database != ":memory:" else None
        self._db = db
        self._connection: sqlite3.Connection | None = None

    def _connect(self, path: str) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                f"{Path(path).absolute().as_uri()}?mode=ro", uri=True,
                check_same_thread=False, isolation_level=None, timeout=0,
            )  # fmt: skip
            self._connection = connection
        return self._connection

    def first(
        self, statement: AnySelect, params: dict[str, Any]
    ) -> tuple[tuple[Any, ...] | None] | None:
        """(the row, or None when there is none), or None when the engine must answer."""
        if self._path is None:
            return None
        plan = compiled(statement, self._db.engine.dialect)
        try:
            found = self._connect(self._path).execute(*plan.bound(params))
            values = found.fetchone()
        except sqlite3.Error:
            return None  # busy, or not there yet: the engine will say
        return (plan.row(values) if values is not None else None,)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
