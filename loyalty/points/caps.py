"""The earning context of a member at an instant: their tier, and what they already earned
within each cap that a rule or the programme sets (read back from the ledger)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.points import earning
from loyalty.points.models import LedgerEntry
from loyalty.programme.spec import ProgrammeFile
from loyalty.tiers import service as tiers


async def used(
    s: AsyncSession,
    member_id: int,
    keys: Sequence[earning.CapKey],
    at: datetime,
    file: ProgrammeFile,
    *,
    count: bool = False,
) -> dict[earning.CapKey, int]:
    """Points (or awards) the member already earned per cap key in its current period, all
    keys in one query."""
    if not keys:
        return {}
    row = (await s.execute(select(*used_columns(member_id, keys, at, file, count=count)))).one()
    return read_used(keys, row)


def used_columns(
    member_id: int,
    keys: Sequence[earning.CapKey],
    at: datetime,
    file: ProgrammeFile,
    *,
    count: bool = False,
) -> list[ColumnElement[int]]:
    """What `used` reads, as one scalar subquery per cap key (to join another statement)."""
    return used_since(member_id, keys, starts(keys, at, file), count=count)


def starts(keys: Sequence[earning.CapKey], at: datetime, file: ProgrammeFile) -> list[Any]:
    """Where each cap key's current period began (None: it never ends)."""
    return [earning.period_start(period, at, file.programme.zone) for _, period in keys]


def used_since(
    member_id: Any, keys: Sequence[earning.CapKey], since: Sequence[Any], *, count: bool = False
) -> list[ColumnElement[int]]:
    """`used_columns` from the periods' starts (values, or bound parameters of a kept
    statement)."""
    return [
        select(_used_within(rule, start, count))
        .where(LedgerEntry.member_id == member_id, LedgerEntry.kind.in_(("earn", "bonus")))
        .scalar_subquery()
        for (rule, _), start in zip(keys, since, strict=True)
    ]


def read_used(keys: Sequence[earning.CapKey], values: Sequence[Any]) -> dict[earning.CapKey, int]:
    return {key: int(value or 0) for key, value in zip(keys, values, strict=True)}


def _used_within(rule: str, start: Any, count: bool) -> ColumnElement[int]:
    """The sum (or count) of one cap key's earnings since `start` (None: ever)."""
    conditions = [
        LedgerEntry.source_type == "purchase"
        if rule == earning.PURCHASES
        else LedgerEntry.rule == rule
    ]
    if start is not None:
        conditions.append(LedgerEntry.occurred_at >= start)
    value = literal(1) if count else LedgerEntry.points
    return func.coalesce(func.sum(case((and_(*conditions), value), else_=0)), 0)


async def context(
    s: AsyncSession, member_id: int, file: ProgrammeFile, at: datetime
) -> earning.EarnContext:
    level = await tiers.current_level(s, member_id, file, at)
    return earning.EarnContext(
        at=at,
        zone=file.programme.zone,
        tier=level.key if level else None,
        tier_multiplier=level.earn_multiplier if level else Decimal(1),
    )
