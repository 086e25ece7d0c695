"""Granting an offer to one member on someone else's initiative (a campaign's `grant_offer`
step): the offer is activated for them at once, in the caller's transaction, taking a place
of its global limit like any activation. The offer must be live and still running; its
eligibility rules other than the campaign's own say are the campaign's business."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError
from loyalty.core.events import OfferActivated, OfferGranted
from loyalty.core.outbox import emit
from loyalty.offers.eligibility import _offer_state
from loyalty.offers.errors import OffersError
from loyalty.offers.models import MemberOffer, Offer
from loyalty.offers.service import _take_place, add_activation


async def grant_offer(
    s: AsyncSession, member_id: int, offer_key: str, reason: str, now: datetime
) -> str | None:
    """Activate the offer for the member. Returns None when granted (or held already), else
    the code of why not (the offer is unknown, paused, ended or used up)."""
    offer = await s.scalar(select(Offer).where(Offer.key == offer_key))
    if offer is None:
        return OffersError.OFFER_NOT_FOUND.value
    refused = _offer_state(offer, now)
    if refused is not None:
        return refused.value
    held = await s.scalar(
        select(MemberOffer.id).where(
            MemberOffer.member_id == member_id, MemberOffer.offer_id == offer.id
        )
    )
    if held is not None:
        return None
    try:
        await _take_place(s, offer, now)
    except DomainError as exc:
        return str(getattr(exc.code, "value", exc.code))
    mine = await add_activation(s, offer, member_id, now)
    granted = OfferGranted(
        member_id=member_id, offer_id=offer.id, offer_key=offer.key, reason=reason[:200]
    )
    emit(s, granted, now)
    activated = OfferActivated(
        member_id=member_id,
        offer_id=offer.id,
        offer_key=offer.key,
        offer_version=offer.version,
        coupon_code=mine.coupon_code,
    )
    emit(s, activated, now)
    return None


async def offer_keys(s: AsyncSession) -> set[str]:
    """The keys of every offer not archived (what a campaign's `grant_offer` may name)."""
    return set(await s.scalars(select(Offer.key).where(Offer.state != "archived")))
