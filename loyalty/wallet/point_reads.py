"""One-row reads by a unique key for the PassKit web service's hottest request: Apple Wallet
asking for a pass that has not changed (answered 304).

On the embedded SQLite default a read through aiosqlite costs a dozen hops to its thread and
back (checkout, BEGIN, cursor, execute, fetch, close, rollback), far more than the lookup
itself. Here the statement runs at once on a read-only connection of SQLite's own: an indexed
lookup of one row under WAL, where readers never wait for writers, takes microseconds. The
statement is a SQLAlchemy Core select, compiled once, and its values pass through the
columns' own result processors, so a row reads as it would through the engine. If SQLite is
busy all the same (it does not wait), or on PostgreSQL (asyncpg does not hop threads), the
read goes through the engine as usual.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Select

from loyalty.storage.database import Database

AnySelect = Select[*tuple[Any, ...]]


class _Compiled:
    def __init__(self, statement: AnySelect, db: Database) -> None:
        dialect = db.engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.names = list(compiled.positiontup or ())
        self.processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def row(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            process(value) if process is not None else value
            for process, value in zip(self.processors, values, strict=True)
        )


class PointReads:
    """Runs one-row Core selects synchronously on a read-only SQLite connection; None from
    `first` means "ask the engine" (not SQLite, or SQLite was busy)."""

    def __init__(self, db: Database) -> None:
        database = db.url.database if db.is_sqlite else None
        self._path = database if database and database != ":memory:" else None
        self._db = db
        self._connection: sqlite3.Connection | None = None
        self._compiled: dict[int, _Compiled] = {}

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
        compiled = self._compiled.get(id(statement))
        if compiled is None:
            compiled = self._compiled[id(statement)] = _Compiled(statement, self._db)
        try:
            found = self._connect(self._path).execute(
                compiled.sql, [params[n] for n in compiled.names]
            )
            values = found.fetchone()
        except sqlite3.Error:
            return None  # busy, or not there yet: the engine will say
        return (compiled.row(values) if values is not None else None,)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
