"""Offers given as a gift by another area (a referral's reward): activated for the member
straight away, without the eligibility check that a member's own activation passes, in the
caller's transaction. The offer must be live; its global limit still counts. Once per member
and offer (the activation is unique), so a repeated gift changes nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import OfferActivated
from loyalty.core.outbox import emit
from loyalty.offers.catalogue import LIVE
from loyalty.offers.models import MemberOffer, Offer
from loyalty.offers.service import ACTIVATED, _coupon
from loyalty.storage.database import insert_for


async def give_offer(s: AsyncSession, member_id: int, offer_key: str, now: datetime) -> bool:
    """Whether the member now holds the offer because of this gift (False: no live offer of
    that key, its global limit is reached, or the member held it already)."""
    offer = await s.scalar(select(Offer).where(Offer.key == offer_key, Offer.state == LIVE))
    if offer is None:
        return False
    taken = await s.execute(
        update(Offer)
        .where(
            Offer.id == offer.id,
            (Offer.global_limit.is_(None)) | (Offer.activated_count < Offer.global_limit),
        )
        .values(activated_count=Offer.activated_count + 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(taken, "rowcount", 0):
        return False
    coupon = _coupon(offer)
    result = await s.execute(
        insert_for(s)(MemberOffer)
        .values(
            member_id=member_id,
            offer_id=offer.id,
            offer_version=offer.version,
            state=ACTIVATED,
            uses=0,
            coupon_code=coupon,
            activated_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["member_id", "offer_id"])
    )
    if not getattr(result, "rowcount", 0):
        # Held already: give the place back.
        await s.execute(
            update(Offer)
            .where(Offer.id == offer.id)
            .values(activated_count=Offer.activated_count - 1)
            .execution_options(synchronize_session=False)
        )
        return False
    emit(
        s,
        OfferActivated(
            member_id=member_id,
            offer_id=offer.id,
            offer_key=offer.key,
            offer_version=offer.version,
            coupon_code=coupon,
        ),
        now,
    )
    return True
