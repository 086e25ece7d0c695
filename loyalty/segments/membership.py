"""Bringing memberships in step with the rules for some members: evaluate every segment for
each of them, write who entered (with `since` and the reasons), who left and whose reasons
changed, store their rhythm, and emit `segment.entered` / `segment.left`.

The incremental path (one member, after their events) and the rebuild (a batch of members at
a time) both come through `refresh_members`, so they cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import SegmentEntered, SegmentLeft
from loyalty.core.outbox import emit
from loyalty.programme.segments_spec import Condition
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.segments.facts import MemberProfile, load_profiles
from loyalty.segments.models import MemberRhythm, Segment, SegmentMembership
from loyalty.segments.rfm import Cuts, stored_cuts
from loyalty.segments.rules import Setting, evaluate
from loyalty.storage.database import insert_for


@dataclass(frozen=True)
class Changes:
    entered: int = 0
    left: int = 0


_RULES: dict[str, Condition] = {}


def rules_of(segment: Segment) -> Condition:
    """The segment's validated rules (cached by their text: rebuilds ask for them often)."""
    key = json.dumps(segment.rules, sort_keys=True)
    rule = _RULES.get(key)
    if rule is None:
        if len(_RULES) > 1024:
            _RULES.clear()
        rule = _RULES[key] = Condition.model_validate(segment.rules)
    return rule


async def active_segments(s: AsyncSession) -> list[Segment]:
    return list(await s.scalars(select(Segment).where(Segment.active).order_by(Segment.id)))


def setting_of(file: ProgrammeFile) -> Setting:
    return Setting({store.key: store for store in file.stores}, file.programme.currency)


async def refresh_members(
    s: AsyncSession,
    member_ids: Sequence[int],
    now: datetime,
    *,
    cuts: Cuts | None = None,
    only: Sequence[Segment] | None = None,
) -> Changes:
    """Re-evaluate `member_ids` against every active segment (or `only` those) and write the
    differences. A few queries per call, whatever the number of members."""
    if not member_ids:
        return Changes()
    file = await current_file(s)
    segments = list(only) if only is not None else await active_segments(s)
    rules = {segment.id: rules_of(segment) for segment in segments}
    cuts = cuts if cuts is not None else await stored_cuts(s)
    profiles = await load_profiles(s, member_ids, file, cuts, list(rules.values()), now)
    await _store_rhythms(s, profiles, now)
    current = {
        (m.segment_id, m.member_id): m
        for m in await s.scalars(
            select(SegmentMembership).where(
                SegmentMembership.member_id.in_([p.member_id for p in profiles]),
                SegmentMembership.segment_id.in_(list(rules)),
            )
        )
    }
    where = setting_of(file)
    entered = left = 0
    for profile in profiles:
        for segment in segments:
            reasons = evaluate(rules[segment.id], profile, where)
            held = current.get((segment.id, profile.member_id))
            if reasons is not None and held is None:
                entered += await _enter(s, segment, profile.member_id, reasons, now)
            elif reasons is not None and held is not None and held.reasons != reasons:
                held.reasons, held.updated_at = reasons, now
            elif reasons is None and held is not None:
                left += await _leave(s, segment, profile.member_id, now)
    await s.flush()
    return Changes(entered, left)


# The rebuild and a member's own events may evaluate the same member at once: the row decides
# who announces the change (ON CONFLICT DO NOTHING / a DELETE that found the row), so each
# entry and exit is announced once and neither transaction fails.


async def _enter(
    s: AsyncSession, segment: Segment, member_id: int, reasons: list[str], now: datetime
) -> int:
    added = await s.execute(
        insert_for(s)(SegmentMembership)
        .values(
            segment_id=segment.id, member_id=member_id, since=now, reasons=reasons, updated_at=now
        )
        .on_conflict_do_nothing()
    )
    if not getattr(added, "rowcount", 0):
        return 0
    event = SegmentEntered(
        member_id=member_id,
        segment_id=segment.id,
        segment_key=segment.key,
        reasons="; ".join(reasons),
    )
    emit(s, event, now)
    return 1


async def _leave(s: AsyncSession, segment: Segment, member_id: int, now: datetime) -> int:
    removed = await s.execute(
        delete(SegmentMembership).where(
            SegmentMembership.segment_id == segment.id, SegmentMembership.member_id == member_id
        )
    )
    if not getattr(removed, "rowcount", 0):
        return 0
    emit(s, SegmentLeft(member_id=member_id, segment_id=segment.id, segment_key=segment.key), now)
    return 1


async def leave_all(s: AsyncSession, segment: Segment, now: datetime) -> int:
    """Empty a segment that is no longer in force, telling each member."""
    ids = list(
        await s.scalars(
            select(SegmentMembership.member_id).where(SegmentMembership.segment_id == segment.id)
        )
    )
    for member_id in ids:
        emit(
            s,
            SegmentLeft(member_id=member_id, segment_id=segment.id, segment_key=segment.key),
            now,
        )
    await s.execute(delete(SegmentMembership).where(SegmentMembership.segment_id == segment.id))
    return len(ids)


async def _store_rhythms(s: AsyncSession, profiles: Sequence[MemberProfile], now: datetime) -> None:
    existing = {
        r.member_id: r
        for r in await s.scalars(
            select(MemberRhythm).where(MemberRhythm.member_id.in_([p.member_id for p in profiles]))
        )
    }
    for p in profiles:
        row = existing.get(p.member_id)
        if row is None:
            row = MemberRhythm(member_id=p.member_id)
            s.add(row)
        r = p.rhythm
        row.purchases_in_year, row.spend_in_year = p.purchases_in_year, p.spend_in_year
        row.first_purchase_at, row.last_purchase_at = r.first_purchase_at, r.last_purchase_at
        row.usual_interval_days, row.home_store = r.usual_interval_days, p.home_store
        row.recency_score, row.frequency_score, row.monetary_score = (
            p.recency,
            p.frequency,
            p.monetary,
        )
        row.lifecycle_stage, row.churn_risk = r.stage, r.churn_risk
        row.churn_parts = {"parts": [[name, value] for name, value in r.churn_parts]}
        row.computed_at = now


async def segment_keys_of(s: AsyncSession, member_id: int) -> frozenset[str]:
    """The keys of the active segments the member is in (what offers' eligibility reads)."""
    rows = await s.scalars(
        select(Segment.key)
        .join(SegmentMembership, SegmentMembership.segment_id == Segment.id)
        .where(SegmentMembership.member_id == member_id, Segment.active)
    )
    return frozenset(rows)


def members_of(segment_id: int) -> Select[int]:
    """The ids of the members in an active segment now, as a subquery other areas filter on
    (survey results per segment)."""
    return (
        select(SegmentMembership.member_id)
        .join(Segment, Segment.id == SegmentMembership.segment_id)
        .where(SegmentMembership.segment_id == segment_id, Segment.active)
    )


async def member_ids_in(s: AsyncSession, segment_key: str) -> list[int]:
    """The ids of the members in an active segment now (a campaign's scheduled entry)."""
    rows = await s.scalars(
        select(SegmentMembership.member_id)
        .join(Segment, Segment.id == SegmentMembership.segment_id)
        .where(Segment.key == segment_key, Segment.active)
        .order_by(SegmentMembership.member_id)
    )
    return list(rows)
