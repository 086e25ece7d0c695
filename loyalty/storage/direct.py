"""Core selects of columns run straight on SQLite's connection, in the session's transaction.

Going through the session costs about 200 µs of Python per statement (execution context,
result machinery), against a few µs for SQLite to answer an indexed read. The hottest reads
(a request's session check, the app's home screen) are built once as Core selects of
columns; here each is compiled once per dialect and, on SQLite, run on the connection of
the session's own transaction (`sqlite_inline`: at once, without aiosqlite's thread), its
values bound and its columns read with the columns' own type processors, so a row reads as
it would through the engine. The transaction is the same, so what a request sees is what it
saw before. On PostgreSQL, in a transaction that may have written, or while something
listens to the engine's statements (tracing, a test counting them), the session runs it.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.storage.sqlite_inline import InlineReadsConnection

AnySelect = Select[*tuple[Any, ...]]


class CompiledSelect:
    """A select compiled for one dialect: its SQL, how to bind values, how to read rows."""

    def __init__(self, statement: AnySelect, dialect: Dialect) -> None:
        self.compiled = statement.compile(dialect=dialect)
        self.sql = self.compiled.string
        columns = statement.selected_columns
        self.processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.row_type = namedtuple("Row", [c.key or f"c{i}" for i, c in enumerate(columns)])  # type: ignore[misc]

    def bound(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL (IN lists expanded) and its positional values, as the engine binds them."""
        state = self.compiled.construct_expanded_state(dict(params))
        # As the engine does: the statement's processors, and those of expanded IN lists.
        processors: dict[str, Any] = {**self.compiled._bind_processors, **state.processors}
        values = []
        for name in state.positiontup or ():
            value = state.parameters[name]
            process = processors.get(name)
            values.append(process(value) if process is not None and value is not None else value)
        return state.statement, values

    def row(self, values: Sequence[Any]) -> Any:
        return self.row_type(
            *(
                process(value) if process is not None else value
                for process, value in zip(self.processors, values, strict=True)
            )
        )


_compiled: dict[tuple[int, str], CompiledSelect] = {}


def compiled(statement: AnySelect, dialect: Dialect) -> CompiledSelect:
    """The statement compiled once for this dialect (statements are module constants)."""
    key = (id(statement), dialect.name)
    found = _compiled.get(key)
    if found is None:
        found = _compiled[key] = CompiledSelect(statement, dialect)
    return found


async def rows(session: AsyncSession, statement: AnySelect, params: Mapping[str, Any]) -> list[Any]:
    """The rows of a Core select of columns (a module constant), read in the session's
    transaction: straight from SQLite's connection when it can, else through the session.
    Rows are named tuples, as the engine's rows are by name and position."""
    connection = await session.connection()  # begins the transaction, as a statement would
    sync = connection.sync_connection
    assert sync is not None
    driver = sync.connection.driver_connection
    # Whatever watches the engine's statements (tracing, a test counting them) sees these too.
    if isinstance(driver, InlineReadsConnection) and not sync.dispatch.before_cursor_execute:
        plan = compiled(statement, connection.dialect)
        found = driver.read_now(*plan.bound(params))
        if found is not None:
            return [plan.row(values) for values in found]
    return list((await session.execute(statement, params)).all())


async def first(session: AsyncSession, statement: AnySelect, params: Mapping[str, Any]) -> Any:
    """The first row, or None."""
    found = await rows(session, statement, params)
    return found[0] if found else None


async def scalar(session: AsyncSession, statement: AnySelect, params: Mapping[str, Any]) -> Any:
    """The first column of the first row, or None."""
    row = await first(session, statement, params)
    return None if row is None else row[0]
