"""When a member's tier is recalculated: at the start of each calendar year, every day for a
rolling window, never for a lifetime one, or on the member's own dates (`validity`: every N
calendar days from the tier's start or from joining); and when a downgrade's grace ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy import false, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.members.models import Member
from loyalty.points.timeline import local_midnight
from loyalty.programme.spec import ProgrammeFile, TiersSpec
from loyalty.tiers.models import MemberTier
from loyalty.tiers.qualification import window


@dataclass(frozen=True)
class MemberPeriod:
    """The member's own period: when the last one ended (None during the first) and when the
    current one ends."""

    began: datetime | None
    ends: datetime


def member_period(
    spec: TiersSpec, anchor: datetime, now: datetime, file: ProgrammeFile
) -> MemberPeriod:
    """Periods of `validity.days` calendar days from `anchor`: the first ends at the end of
    the Nth day after the anchor's day, in programme time, and each next one N days later."""
    assert spec.validity is not None
    zone, days = file.programme.zone, spec.validity.days
    start: date = anchor.astimezone(zone).date() + timedelta(days=1)
    elapsed = (now.astimezone(zone).date() - start).days
    passed = elapsed // days if elapsed >= 0 else 0
    began = local_midnight(start + timedelta(days=passed * days), zone) if passed else None
    return MemberPeriod(began, local_midnight(start + timedelta(days=(passed + 1) * days), zone))


def period_began(
    spec: TiersSpec,
    row: MemberTier | None,
    joined_at: datetime | None,
    now: datetime,
    file: ProgrammeFile,
) -> datetime | None:
    """When the current period began, for the recalculation that closes the one before it
    (None: there is no such recalculation)."""
    if spec.validity is not None:
        assert row is not None and joined_at is not None
        anchor = row.since if spec.validity.counted_from == "tier_start" else joined_at
        return member_period(spec, anchor, now, file).began
    if spec.window == "calendar_year":
        return window(spec, now, file)[0]
    if spec.window == "rolling":
        return local_midnight(now.astimezone(file.programme.zone).date(), file.programme.zone)
    return None


async def due_for_recalculation(
    s: AsyncSession, file: ProgrammeFile, now: datetime, limit: int = 500
) -> list[int]:
    """Members whose tier has not been recalculated since their current period began, or
    whose downgrade's grace has ended."""
    spec = file.tiers
    if spec is None:
        return []
    graced = (MemberTier.downgrade_at <= now) & (
        MemberTier.recalculated_at.is_(None)
        | (MemberTier.recalculated_at < MemberTier.downgrade_at)
    )
    if spec.validity is None:
        began = period_began(spec, None, None, now, file)
        ended = (
            (MemberTier.since < began)
            & (MemberTier.recalculated_at.is_(None) | (MemberTier.recalculated_at < began))
            if began is not None
            else false()
        )
        rows = await s.scalars(
            select(MemberTier.member_id)
            .where(ended | graced)
            .order_by(MemberTier.member_id)
            .limit(limit)
        )
        return list(rows)
    # Each member on their own dates: read the tiers and decide here.
    found = await s.execute(
        select(MemberTier, Member.joined_at)
        .join(Member, Member.id == MemberTier.member_id)
        .order_by(MemberTier.member_id)
    )
    due = []
    for row, joined_at in found:
        began = period_began(spec, row, joined_at, now, file)
        last = row.recalculated_at
        if (
            row.downgrade_at is not None
            and row.downgrade_at <= now
            and (last is None or last < row.downgrade_at)
        ) or (began is not None and row.since < began and (last is None or last < began)):
            due.append(row.member_id)
            if len(due) == limit:
                break
    return due


class TierRow(Protocol):
    """What the tier reads use of a member's tier row: the row itself, or its columns read
    as a row on the direct path (`loyalty.tiers.read`)."""

    member_id: int
    tier: str
    since: datetime
    floor_tier: str | None
    floor_until: datetime | None


async def period_ends(
    s: AsyncSession, spec: TiersSpec, row: TierRow | None, now: datetime, file: ProgrammeFile
) -> datetime | None:
    """When the member's current period ends (None for windows that roll or never end)."""
    if spec.validity is None:
        return window(spec, now, file)[1]
    if row is None:
        return None
    anchor = row.since
    if spec.validity.counted_from == "joined":
        joined = await s.scalar(select(Member.joined_at).where(Member.id == row.member_id))
        anchor = joined or row.since
    return member_period(spec, anchor, now, file).ends


async def closing_period_start(
    s: AsyncSession, member_id: int, file: ProgrammeFile, now: datetime
) -> datetime | None:
    """Where the period that a recalculation at `now` closes ended: points earned before it
    belong to the closed period (None: no period closes)."""
    spec = file.tiers
    if spec is None:
        return None
    found = (
        await s.execute(
            select(MemberTier, Member.joined_at)
            .join(Member, Member.id == MemberTier.member_id)
            .where(MemberTier.member_id == member_id)
        )
    ).first()
    if found is None:
        return None
    row, joined_at = found
    return period_began(spec, row, joined_at, now, file)
