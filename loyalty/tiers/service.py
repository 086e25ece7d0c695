"""Tiers: qualification over a window, upgrade at once, downgrade only at recalculation,
and a tier set by staff that is a floor until a date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import CoreError, DomainError
from loyalty.core.events import TierChanged
from loyalty.core.outbox import emit
from loyalty.points.models import LedgerEntry, Purchase
from loyalty.points.timeline import local_midnight
from loyalty.programme.spec import ProgrammeFile, TierLevel, TiersSpec
from loyalty.tiers.errors import TiersError
from loyalty.tiers.models import MemberTier

QUALIFYING_SOURCES = ("purchase", "event")


@dataclass(frozen=True)
class TierStatus:
    level: TierLevel
    next_level: TierLevel | None
    qualifying: int
    to_next: int | None
    period_ends_at: datetime | None
    floor: TierLevel | None
    floor_until: datetime | None


def window(spec: TiersSpec, now: datetime, file: ProgrammeFile) -> tuple[datetime, datetime | None]:
    """The qualification window containing `now`: its start, and its end if it has one."""
    zone = file.programme.zone
    if spec.window == "calendar_year":
        year = now.astimezone(zone).year
        return local_midnight(date(year, 1, 1), zone), local_midnight(date(year + 1, 1, 1), zone)
    return now - timedelta(days=spec.rolling_days), None


async def qualifying(s: AsyncSession, member_id: int, file: ProgrammeFile, now: datetime) -> int:
    assert file.tiers is not None
    start, _ = window(file.tiers, now, file)
    if file.tiers.qualify_on == "spend":
        spent = await s.scalar(
            select(
                func.coalesce(func.sum(Purchase.eligible_total - Purchase.returned_eligible), 0)
            ).where(
                Purchase.member_id == member_id,
                Purchase.occurred_at >= start,
                Purchase.occurred_at <= now,
            )
        )
        return int(Decimal(spent or 0).to_integral_value(ROUND_FLOOR))
    earned = await s.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.member_id == member_id,
            LedgerEntry.source_type.in_(QUALIFYING_SOURCES),
            LedgerEntry.kind.in_(("earn", "bonus", "reverse")),
            LedgerEntry.occurred_at >= start,
            LedgerEntry.occurred_at <= now,
        )
    )
    return max(int(earned or 0), 0)


def qualified_level(spec: TiersSpec, points: int) -> TierLevel:
    return [level for level in spec.levels if level.threshold <= points][-1]


def _index(spec: TiersSpec, key: str | None) -> int:
    for i, level in enumerate(spec.levels):
        if level.key == key:
            return i
    return 0


async def _row(s: AsyncSession, member_id: int, spec: TiersSpec, now: datetime) -> MemberTier:
    row = await s.get(MemberTier, member_id)
    if row is None:
        row = MemberTier(member_id=member_id, tier=spec.levels[0].key, since=now)
        s.add(row)
        await s.flush()
    return row


def _effective(spec: TiersSpec, row: MemberTier | None, now: datetime) -> TierLevel:
    if row is None:
        return spec.levels[0]
    index = _index(spec, row.tier)
    if row.floor_tier and (row.floor_until is None or row.floor_until > now):
        index = max(index, _index(spec, row.floor_tier))
    return spec.levels[index]


async def current_level(
    s: AsyncSession, member_id: int, file: ProgrammeFile, now: datetime
) -> TierLevel | None:
    if file.tiers is None:
        return None
    return _effective(file.tiers, await s.get(MemberTier, member_id), now)


async def current_levels(
    s: AsyncSession, member_ids: Sequence[int], file: ProgrammeFile, now: datetime
) -> dict[int, TierLevel]:
    """The tier of each member, in one query (empty when the programme has no tiers)."""
    spec = file.tiers
    if spec is None or not member_ids:
        return {}
    rows = {
        r.member_id: r
        for r in await s.scalars(select(MemberTier).where(MemberTier.member_id.in_(member_ids)))
    }
    return {m: _effective(spec, rows.get(m), now) for m in member_ids}


async def status(
    s: AsyncSession, member_id: int, file: ProgrammeFile, now: datetime
) -> TierStatus | None:
    spec = file.tiers
    if spec is None:
        return None
    row = await s.get(MemberTier, member_id)
    level = _effective(spec, row, now)
    points = await qualifying(s, member_id, file, now)
    index = _index(spec, level.key)
    next_level = spec.levels[index + 1] if index + 1 < len(spec.levels) else None
    floor_active = (
        row is not None and row.floor_tier and (row.floor_until is None or row.floor_until > now)
    )
    return TierStatus(
        level=level,
        next_level=next_level,
        qualifying=points,
        to_next=max(next_level.threshold - points, 0) if next_level else None,
        period_ends_at=window(spec, now, file)[1],
        floor=spec.levels[_index(spec, row.floor_tier)] if floor_active and row else None,
        floor_until=row.floor_until if floor_active and row else None,
    )


def _changed(
    s: AsyncSession, row: MemberTier, old: str, new: str, now: datetime, reason: str
) -> None:
    if old != new:
        emit(
            s,
            TierChanged(member_id=row.member_id, from_tier=old, to_tier=new, reason=reason),
            now,
        )


async def upgrade_if_qualified(
    s: AsyncSession, member_id: int, file: ProgrammeFile, now: datetime
) -> TierLevel | None:
    """After earning: move up at once when the member qualifies for a higher tier."""
    spec = file.tiers
    if spec is None:
        return None
    row = await _row(s, member_id, spec, now)
    target = qualified_level(spec, await qualifying(s, member_id, file, now))
    if _index(spec, target.key) > _index(spec, row.tier):
        before = _effective(spec, row, now).key
        row.tier, row.since = target.key, now
        # Under a higher staff floor the member's tier does not change yet.
        _changed(s, row, before, _effective(spec, row, now).key, now, "qualified")
        await s.flush()
    return _effective(spec, row, now)


async def recalculate(
    s: AsyncSession, member_id: int, file: ProgrammeFile, now: datetime
) -> TierLevel | None:
    """At the period's recalculation: the tier follows qualification, down as well as up
    (one step at a time if the programme says so), never below a staff floor in force."""
    spec = file.tiers
    if spec is None:
        return None
    row = await _row(s, member_id, spec, now)
    current = _index(spec, row.tier)
    points = await qualifying(s, member_id, file, now)
    if spec.window == "calendar_year":
        # Run once a new year has begun: the year that just ended decides (what was earned
        # since New Year counts as well; it would have upgraded the member already).
        start, _ = window(spec, now, file)
        ended = await qualifying(s, member_id, file, start - timedelta(microseconds=1))
        points = max(points, ended)
    target = _index(spec, qualified_level(spec, points).key)
    if target < current and spec.downgrade_one_step:
        target = current - 1
    new = spec.levels[target].key
    # The tier the member was last told about: a staff floor holds until this clears it.
    floor = _index(spec, row.floor_tier) if row.floor_tier else 0
    before = spec.levels[max(current, floor)].key
    if new != row.tier:
        row.tier, row.since = new, now
    if row.floor_until is not None and row.floor_until <= now:
        row.floor_tier, row.floor_until = None, None
    _changed(s, row, before, _effective(spec, row, now).key, now, "recalculated")
    row.recalculated_at = now
    await s.flush()
    return _effective(spec, row, now)


async def set_floor(
    s: AsyncSession,
    member_id: int,
    file: ProgrammeFile,
    tier: str,
    until: datetime | None,
    now: datetime,
) -> TierLevel:
    """Staff set a tier: the member has at least this tier until `until` (or for good)."""
    spec = file.tiers
    if spec is None or tier not in {level.key for level in spec.levels}:
        raise DomainError(TiersError.UNKNOWN_TIER, f"No tier {tier!r} in this programme", "tier")
    if until is not None and until <= now:
        raise DomainError(CoreError.INVALID_DATE, "`until` must be in the future", "until")
    row = await _row(s, member_id, spec, now)
    before = _effective(spec, row, now).key
    row.floor_tier, row.floor_until = tier, until
    after = _effective(spec, row, now)
    _changed(s, row, before, after.key, now, "set_by_staff")
    await s.flush()
    return after


async def due_for_recalculation(
    s: AsyncSession, file: ProgrammeFile, now: datetime, limit: int = 500
) -> list[int]:
    """Members whose tier has not been recalculated since the current period began."""
    spec = file.tiers
    if spec is None:
        return []
    if spec.window == "calendar_year":
        boundary, _ = window(spec, now, file)
    else:
        boundary = local_midnight(now.astimezone(file.programme.zone).date(), file.programme.zone)
    rows = await s.scalars(
        select(MemberTier.member_id)
        .where(
            (MemberTier.recalculated_at.is_(None)) | (MemberTier.recalculated_at < boundary),
            MemberTier.since < boundary,
        )
        .order_by(MemberTier.member_id)
        .limit(limit)
    )
    return list(rows)
