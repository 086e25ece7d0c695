"""Flushing many new rows at once: their ids drawn first, one statement per table.

A flush inserts new objects and must learn their ids. PostgreSQL sends a batch with RETURNING
in one statement, but SQLite cannot promise RETURNING's order, so SQLAlchemy inserts those
rows one at a time there: one round trip each. `flush_many` draws the ids of the new rows of
each table first (SQLite: after the highest id, which is what SQLite itself would give them,
safe because a writing unit of work holds the database's only write lock; PostgreSQL: from
the table's sequence) and so lets the flush insert them in batches on both."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.sql.schema import Column

# Fewer new rows of a table than this are left to the flush as they are (everyday writes,
# a purchase's few rows, are not changed by it).
AT_LEAST = 20


async def flush_many(s: AsyncSession, *, at_least: int = AT_LEAST) -> None:
    """Flush, numbering the session's new rows first where a table has `at_least` of them."""
    waiting: dict[Mapper[Any], list[Any]] = defaultdict(list)
    for obj in s.new:
        state = inspect(obj)
        column = _id_column(state.mapper)
        if column is not None and state.dict.get(_key(state.mapper, column)) is None:
            waiting[state.mapper].append(state)
    for mapper, states in waiting.items():
        if len(states) < at_least:
            continue
        column = _id_column(mapper)
        assert column is not None
        states.sort(key=lambda state: state.insert_order)
        ids = await _draw(s, column, len(states))
        name = _key(mapper, column)
        for state, new_id in zip(states, ids, strict=True):
            setattr(state.obj(), name, new_id)
    await s.flush()


def _key(mapper: Mapper[Any], column: Column[Any]) -> str:
    return mapper.get_property_by_column(column).key


def _id_column(mapper: Mapper[Any]) -> Column[Any] | None:
    """The single integer primary key the database numbers, if the table has one."""
    keys = mapper.primary_key
    if len(keys) != 1 or keys[0].autoincrement not in (True, "auto"):
        return None
    column = keys[0]
    if not isinstance(column, Column) or column.foreign_keys:
        return None
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return None
    return column if python_type is int else None


async def _draw(s: AsyncSession, column: Column[Any], count: int) -> list[int]:
    if s.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(column.table.name, column.name)
        query = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        return sorted(int(n) for n in await s.scalars(query))
    highest = await s.scalar(select(func.max(column)))
    start = int(highest or 0) + 1
    return list(range(start, start + count))
