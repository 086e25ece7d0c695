"""What the segment rules read about members, loaded for a batch of members at once: a
handful of queries per batch, however many members and segments (`load_profiles`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.members.models import Member, MemberConsent
from loyalty.points.models import MemberEvent
from loyalty.points.models import Purchase as PurchaseRow
from loyalty.programme.segments_spec import PURCHASE, Condition
from loyalty.programme.spec import ProgrammeFile
from loyalty.segments.rfm import YEAR, Cuts, net_amount
from loyalty.segments.rhythm import Purchase, Rhythm, rhythm_of
from loyalty.tiers import service as tiers

# How far back the rhythm looks (a `did` condition over purchases may look further).
LOOKBACK = timedelta(days=730)


@dataclass(frozen=True)
class MemberProfile:
    """One member as the rules see them."""

    member_id: int
    active: bool
    interests: frozenset[str]
    consents: frozenset[str]
    tier: str | None
    rhythm: Rhythm
    purchases_in_year: int
    spend_in_year: Decimal
    home_store: str | None
    recency: int | None
    frequency: int | None
    monetary: int | None
    # Times each (event, days) of the rules happened within those days.
    counts: dict[tuple[str, int], int] = field(default_factory=dict)


def counted_events(conditions: Iterable[Condition]) -> set[tuple[str, int]]:
    """Every (event, within_days) that a `did` condition asks about."""
    return {
        (c.did.event, c.did.within_days)
        for root in conditions
        for c in root.walk()
        if c.did is not None
    }


def _home_store(stores: Sequence[str | None]) -> str | None:
    """The store the member bought at most often (the latest of equals)."""
    counted = Counter(s for s in stores if s)
    if not counted:
        return None
    best = max(counted.values())
    return next(s for s in reversed(stores) if s and counted[s] == best)


async def _activity_counts(
    s: AsyncSession, ids: Sequence[int], wanted: set[tuple[str, int]], now: datetime
) -> dict[tuple[str, int], dict[int, int]]:
    found: dict[tuple[str, int], dict[int, int]] = {}
    for name, days in sorted(wanted):
        if name == PURCHASE:
            continue
        rows = await s.execute(
            select(MemberEvent.member_id, func.count())
            .where(
                MemberEvent.member_id.in_(ids),
                MemberEvent.name == name,
                MemberEvent.occurred_at >= now - timedelta(days=days),
            )
            .group_by(MemberEvent.member_id)
        )
        found[(name, days)] = {m: int(n) for m, n in rows}
    return found


async def load_profiles(
    s: AsyncSession,
    member_ids: Sequence[int],
    file: ProgrammeFile,
    cuts: Cuts,
    conditions: Sequence[Condition],
    now: datetime,
) -> list[MemberProfile]:
    """Profiles of the members that exist among `member_ids`, in id order."""
    ids = sorted(set(member_ids))
    members = list(await s.scalars(select(Member).where(Member.id.in_(ids)).order_by(Member.id)))
    consents: dict[int, set[str]] = defaultdict(set)
    for member_id, channel in await s.execute(
        select(MemberConsent.member_id, MemberConsent.channel).where(
            MemberConsent.member_id.in_(ids), MemberConsent.granted.is_(True)
        )
    ):
        consents[member_id].add(channel)
    wanted = counted_events(conditions)
    purchase_days = max([d for e, d in wanted if e == PURCHASE], default=0)
    since = now - max(LOOKBACK, timedelta(days=purchase_days))
    bought: dict[int, list[tuple[datetime, Decimal, str | None]]] = defaultdict(list)
    for member_id, at, amount, store in await s.execute(
        select(PurchaseRow.member_id, PurchaseRow.occurred_at, net_amount(), PurchaseRow.store)
        .where(PurchaseRow.member_id.in_(ids), PurchaseRow.occurred_at >= since)
        .order_by(PurchaseRow.member_id, PurchaseRow.occurred_at, PurchaseRow.id)
    ):
        bought[member_id].append((at, Decimal(str(amount)), store))
    needs_tier = any(c.tiers for root in conditions for c in root.walk())
    levels = await tiers.current_levels(s, ids, file, now) if needs_tier else {}
    counts = await _activity_counts(s, ids, wanted, now)
    return [
        _profile(m, bought[m.id], consents[m.id], levels, counts, wanted, cuts, now)
        for m in members
    ]


def _profile(
    member: Member,
    bought: list[tuple[datetime, Decimal, str | None]],
    consents: set[str],
    levels: dict[int, tiers.TierLevel],
    counts: dict[tuple[str, int], dict[int, int]],
    wanted: set[tuple[str, int]],
    cuts: Cuts,
    now: datetime,
) -> MemberProfile:
    in_lookback = [p for p in bought if p[0] >= now - LOOKBACK]
    rhythm = rhythm_of(
        [Purchase(at, amount) for at, amount, _ in in_lookback], member.joined_at, now
    )
    year = [p for p in bought if p[0] >= now - YEAR]
    frequency, spend = len(year), sum((amount for _, amount, _ in year), Decimal(0))
    r, f, m = cuts.scores(bought[-1][0] if bought else None, frequency, spend)
    mine: dict[tuple[str, int], int] = {}
    for event, days in wanted:
        if event == PURCHASE:
            mine[(event, days)] = sum(1 for p in bought if p[0] >= now - timedelta(days=days))
        else:
            mine[(event, days)] = counts.get((event, days), {}).get(member.id, 0)
    level = levels.get(member.id)
    return MemberProfile(
        member_id=member.id,
        active=member.status == "active",
        interests=frozenset(i.lower() for i in member.interests or []),
        consents=frozenset(consents),
        tier=level.key if level else None,
        rhythm=rhythm,
        purchases_in_year=frequency,
        spend_in_year=spend,
        home_store=_home_store([store for _, _, store in year]),
        recency=r,
        frequency=f,
        monetary=m,
        counts=mine,
    )
