"""What the offers' checks need to know about a member, read in a few batched queries:
the member row, the personalisation consent, whether they bought before, their tier and their
segments (each only when an offer asks for one) and their activations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import NotFound
from loyalty.members.models import Member, MemberConsent
from loyalty.offers.models import MemberOffer
from loyalty.points.models import Purchase
from loyalty.programme.spec import ProgrammeFile
from loyalty.segments.membership import segment_keys_of
from loyalty.storage import direct
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


# Built once: an offer list (the app's home screen) reads these on every request.
_MEMBER: BindParameter[int] = bindparam("member")
_CONSENT = select(MemberConsent.granted).where(
    MemberConsent.member_id == _MEMBER, MemberConsent.channel == PERSONALISATION
)
_BOUGHT = select(Purchase.id).where(Purchase.member_id == _MEMBER).limit(1)
_ACTIVATIONS = select(MemberOffer).where(MemberOffer.member_id == _MEMBER)
_ACTIVATIONS_OF = _ACTIVATIONS.where(MemberOffer.offer_id.in_(bindparam("offers", expanding=True)))


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
    given = {"member": member_id}
    consent = await direct.scalar(s, _CONSENT, given)
    bought = await direct.scalar(s, _BOUGHT, given)
    needs_tier = file.tiers is not None and any(o.eligibility.tiers for o in file.offers)
    level = await tiers.current_level(s, member_id, file, now) if needs_tier else None
    if offer_ids is None:
        found = await s.scalars(_ACTIVATIONS, given)
    else:
        found = await s.scalars(_ACTIVATIONS_OF, {**given, "offers": list(offer_ids)})
    activations = {m.offer_id: m for m in found}
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
