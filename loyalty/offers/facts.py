"""What the offers' checks need to know about a member, read in a few batched queries:
the member row, the personalisation consent, whether they bought before, their tier and their
segments (each only when an offer asks for one) and their activations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import NotFound
from loyalty.members.models import Member, MemberConsent
from loyalty.offers.models import MemberOffer
from loyalty.points.models import Purchase
from loyalty.programme.spec import ProgrammeFile
from loyalty.segments.membership import segment_keys_of
from loyalty.tiers import service as tiers

PERSONALISATION = "personalisation"


@dataclass(frozen=True)
class MemberFacts:
    member_id: int
    active: bool
    tier: str | None
    interests: frozenset[str]
    birth_month: int | None
    joined_at: datetime
    has_purchased: bool
    personalisation: bool
    # The member's activations, by offer id.
    activations: dict[int, MemberOffer] = field(default_factory=dict)
    # Keys of the segments the member is in (read only when an offer names a segment).
    segments: frozenset[str] = frozenset()


async def member_facts(
    s: AsyncSession,
    member_id: int,
    file: ProgrammeFile,
    now: datetime,
    offer_ids: Sequence[int] | None = None,
) -> MemberFacts:
    """The member's facts; `offer_ids` limits the activations read (None: all of them)."""
    member = await s.get(Member, member_id)
    if member is None:
        raise NotFound("Member", "member")
    consent = await s.scalar(
        select(MemberConsent.granted).where(
            MemberConsent.member_id == member_id, MemberConsent.channel == PERSONALISATION
        )
    )
    bought = await s.scalar(select(Purchase.id).where(Purchase.member_id == member_id).limit(1))
    needs_tier = file.tiers is not None and any(o.eligibility.tiers for o in file.offers)
    level = await tiers.current_level(s, member_id, file, now) if needs_tier else None
    query = select(MemberOffer).where(MemberOffer.member_id == member_id)
    if offer_ids is not None:
        query = query.where(MemberOffer.offer_id.in_(offer_ids))
    activations = {m.offer_id: m for m in await s.scalars(query)}
    by_segment = any(o.eligibility.segments for o in file.offers)
    segments = await segment_keys_of(s, member_id) if by_segment else frozenset()
    return MemberFacts(
        member_id=member_id,
        active=member.status == "active",
        tier=level.key if level else None,
        interests=frozenset(i.lower() for i in member.interests or []),
        birth_month=member.birth_date.month if member.birth_date else None,
        joined_at=member.joined_at,
        has_purchased=bought is not None,
        personalisation=bool(consent),
        activations=activations,
        segments=segments,
    )
