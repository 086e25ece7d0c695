"""Tiers: qualification over a window, upgrade at once, downgrade only at recalculation,
and a tier set by staff that is a floor until a date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core import probes
from loyalty.core.errors import CoreError, DomainError
from loyalty.core.events import TierChanged
from loyalty.core.outbox import emit
from loyalty.points.timeline import local_midnight
from loyalty.programme.spec import ProgrammeFile, TierLevel, TiersSpec
from loyalty.storage.numbering import flush_many
from loyalty.tiers.errors import TiersError
from loyalty.tiers.models import MemberTier
from loyalty.tiers.periods import TierRow, due_for_recalculation, period_ends
from loyalty.tiers.qualification import (
    QUALIFYING_SOURCES,
    deserved,
    qualified_level,
    qualifying,
    window,
)

# Qualification lives in `loyalty.tiers.qualification`; callers may keep reading it here.
__all__ = [
    "QUALIFYING_SOURCES",
    "Floor",
    "TierStatus",
    "current_level",
    "current_levels",
    "due_for_recalculation",
    "qualified_level",
    "qualifying",
    "recalculate",
    "set_floor",
    "set_floors",
    "status",
    "upgrade_if_qualified",
    "window",
    "with_row",
]


@dataclass(frozen=True)
class TierStatus:
    level: TierLevel
    next_level: TierLevel | None
    qualifying: int
    to_next: int | None
    period_ends_at: datetime | None
    floor: TierLevel | None
    floor_until: datetime | None


def _index(spec: TiersSpec, key: str | None) -> int:
    for i, level in enumerate(spec.levels):
        if level.key == key:
            return i
    return 0


# Where a session keeps the member `with_row` found without a tier row, in that transaction.
_ABSENT = "trouw.tier_row_absent"


def note_row(s: AsyncSession, member_id: int, row: MemberTier | None) -> None:
    """What `with_row` read for the member: with no row, the next tier check of the
    transaction adds one without looking for it again."""
    if row is None:
        s.info[_ABSENT] = (s.sync_session.get_transaction(), member_id)


def _known_absent(s: AsyncSession, member_id: int) -> bool:
    kept = s.info.pop(_ABSENT, None)
    return kept == (s.sync_session.get_transaction(), member_id)


async def _row(s: AsyncSession, member_id: int, spec: TiersSpec, now: datetime) -> MemberTier:
    absent = _known_absent(s, member_id)
    row = None if absent else await s.get(MemberTier, member_id)
    if row is None:
        row = _new_row(s, member_id, spec, now)
        await s.flush()
    return row


async def _rows(
    s: AsyncSession, member_ids: Sequence[int], spec: TiersSpec, now: datetime
) -> dict[int, MemberTier]:
    """`_row` for many members: one query, one flush."""
    query = select(MemberTier).where(MemberTier.member_id.in_(member_ids))
    rows = {row.member_id: row for row in await s.scalars(query)}
    missing = [m for m in dict.fromkeys(member_ids) if m not in rows]
    rows.update({m: _new_row(s, m, spec, now) for m in missing})
    if missing:
        await flush_many(s)
    return rows


def _new_row(s: AsyncSession, member_id: int, spec: TiersSpec, now: datetime) -> MemberTier:
    row = MemberTier(member_id=member_id, tier=spec.levels[0].key, since=now)
    s.add(row)
    return row


def _effective(spec: TiersSpec, row: TierRow | None, now: datetime) -> TierLevel:
    if row is None:
        return spec.levels[0]
    index = _index(spec, row.tier)
    if row.floor_tier and (row.floor_until is None or row.floor_until > now):
        index = max(index, _index(spec, row.floor_tier))
    return spec.levels[index]


def with_row(query: Select[Any], member_id: probes.MemberId) -> Select[Any]:
    """`query` with the member's tier row (None when they have none) as its last column, so a
    use case that reads anyway loads the row the tier checks then find in the session (as
    long as the caller holds on to it: the session keeps only weak references)."""
    return query.add_columns(MemberTier).outerjoin(MemberTier, MemberTier.member_id == member_id)


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
    if file.tiers is None:
        return None
    return await status_of(s, member_id, file, now, await s.get(MemberTier, member_id))


async def status_of(
    s: AsyncSession, member_id: int, file: ProgrammeFile, now: datetime, row: TierRow | None
) -> TierStatus | None:
    """`status` from the member's tier row (None: they have none), however it was read."""
    spec = file.tiers
    if spec is None:
        return None
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
        period_ends_at=await period_ends(s, spec, row, now, file),
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
    target = qualified_level(spec, await deserved(s, member_id, file, now))
    if row.downgrade_at is not None and _index(spec, target.key) >= _index(spec, row.tier):
        row.downgrade_at = None  # qualified again within the grace
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
    # Run once a new year has begun, the year that just ended decides (what was earned
    # since New Year counts as well; it would have upgraded the member already).
    points = await deserved(s, member_id, file, now)
    target = _index(spec, qualified_level(spec, points).key)
    if target < current and spec.downgrade_one_step:
        target = current - 1
    target = _after_grace(spec, row, current, target, now, file)
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


def _after_grace(
    spec: TiersSpec, row: MemberTier, current: int, target: int, now: datetime, file: ProgrammeFile
) -> int:
    """A downgrade waits `downgrade_grace_days` from the recalculation that found it; a
    member who qualifies again by then keeps the tier."""
    if target >= current or spec.downgrade_grace_days == 0:
        row.downgrade_at = None
        return target
    if row.downgrade_at is None:
        zone = file.programme.zone
        today = now.astimezone(zone).date()
        row.downgrade_at = local_midnight(today + timedelta(days=spec.downgrade_grace_days), zone)
    if row.downgrade_at > now:
        return current
    row.downgrade_at = None
    return target


async def set_floor(
    s: AsyncSession,
    member_id: int,
    file: ProgrammeFile,
    tier: str,
    until: datetime | None,
    now: datetime,
) -> TierLevel:
    """Staff set a tier: the member has at least this tier until `until` (or for good)."""
    return (await set_floors(s, [Floor(member_id, tier, until)], file, now))[member_id]


@dataclass(frozen=True)
class Floor:
    member_id: int
    tier: str
    until: datetime | None


async def set_floors(
    s: AsyncSession, floors: Sequence[Floor], file: ProgrammeFile, now: datetime
) -> dict[int, TierLevel]:
    """`set_floor` for many members (an import), their tier rows read in one query."""
    spec = file.tiers
    for floor in floors:
        if spec is None or floor.tier not in {level.key for level in spec.levels}:
            message = f"No tier {floor.tier!r} in this programme"
            raise DomainError(TiersError.UNKNOWN_TIER, message, "tier")
        if floor.until is not None and floor.until <= now:
            raise DomainError(CoreError.INVALID_DATE, "`until` must be in the future", "until")
    if spec is None or not floors:
        return {}
    rows = await _rows(s, [f.member_id for f in floors], spec, now)
    result = {}
    for floor in floors:
        row = rows[floor.member_id]
        before = _effective(spec, row, now).key
        row.floor_tier, row.floor_until = floor.tier, floor.until
        result[floor.member_id] = after = _effective(spec, row, now)
        _changed(s, row, before, after.key, now, "set_by_staff")
    await flush_many(s)
    return result
