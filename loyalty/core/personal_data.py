"""What each area holds about a member: the registry that exports and erasure go through.

Every area with a table that holds a member's data has a `personal_data.py` with
`register(registry)`, which adds one `Holding` per table or group of tables: the tables it
covers, how to export what they hold for one member, and how to erase it. `loyalty.areas` finds
the modules and the composition root fills the registry, like reactions. A test fails when a
table with a `member_id` column is covered by no holding, so a new area cannot forget.

Erasing keeps the programme's books: amounts and dates stay; what identifies the person goes
(deleted, or blanked in place).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

Exporter = Callable[[AsyncSession, int], Awaitable[Any]]
Eraser = Callable[[AsyncSession, int, datetime], Awaitable[None]]
Values = Callable[[AsyncSession, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class Holding:
    """One part of a member's data: its name in the export (`section`), the tables it covers,
    and what exporting and erasing it do. `values` lists the personal values it holds in clear
    (or that others may have copied), so the verifier can look for them after erasure."""

    area: str
    section: str
    tables: tuple[str, ...]
    export: Exporter
    erase: Eraser
    values: Values | None = None
    # What erasing does, in words (docs/privacy.md lists them).
    erasure: str = ""


@dataclass
class PersonalDataRegistry:
    holdings: list[Holding] = field(default_factory=list)

    def add(self, holding: Holding) -> None:
        if any(h.section == holding.section for h in self.holdings):
            raise ValueError(f"export section {holding.section!r} is registered twice")
        self.holdings.append(holding)

    def covered_tables(self) -> set[str]:
        return {table for holding in self.holdings for table in holding.tables}


def plain(value: Any) -> Any:
    """A value as JSON can carry it: dates as ISO 8601, amounts as decimal strings, bytes never."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def rows_as_dicts(rows: Sequence[Row[Any]] | Sequence[Any], skip: Sequence[str] = ()) -> list[Any]:
    """ORM objects or rows as JSON-ready dicts of their columns (without `skip`)."""
    found: list[Any] = []
    for row in rows:
        if isinstance(row, Row):
            values = dict(row._mapping)
        else:
            table = row.__table__
            values = {c.key: getattr(row, c.key) for c in table.columns}
        found.append({k: plain(v) for k, v in values.items() if k not in skip})
    return found


def rows_of(model: Any, *, skip: Sequence[str] = ("member_id",)) -> Exporter:
    """An exporter of every row of `model` (a table with `member_id`) that is the member's."""

    async def export(session: AsyncSession, member_id: int) -> Any:
        from sqlalchemy import select

        key = list(model.__table__.primary_key.columns)
        rows = await session.scalars(
            select(model).where(model.member_id == member_id).order_by(*key)
        )
        return rows_as_dicts(list(rows), skip)

    return export


async def keep(_session: AsyncSession, _member_id: int, _now: datetime) -> None:
    """Nothing identifying is held: amounts and dates stay for the books."""


def delete_rows(model: Any) -> Eraser:
    """An eraser that deletes the member's rows of `model`."""

    async def erase(session: AsyncSession, member_id: int, _now: datetime) -> None:
        from sqlalchemy import delete

        await session.execute(delete(model).where(model.member_id == member_id))

    return erase
