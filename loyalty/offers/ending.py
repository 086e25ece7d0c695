"""Offers that end for the members who hold them: an activation whose offer ran out of time
or was archived becomes `expired`, and the member hears it (`offer.expired`) once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import OfferExpired
from loyalty.core.outbox import emit
from loyalty.offers.catalogue import ARCHIVED
from loyalty.offers.models import MemberOffer, Offer
from loyalty.offers.service import ACTIVATED, EXPIRED


async def end_held_offers(s: AsyncSession, now: datetime, limit: int) -> int:
    """End up to `limit` activations whose offer ended; returns how many."""
    ended = (
        await s.execute(
            select(MemberOffer, Offer)
            .join(Offer, Offer.id == MemberOffer.offer_id)
            .where(
                MemberOffer.state == ACTIVATED,
                or_(
                    Offer.state == ARCHIVED,
                    and_(Offer.valid_until.is_not(None), Offer.valid_until <= now),
                ),
            )
            .order_by(MemberOffer.id)
            .limit(limit)
            .with_for_update(of=MemberOffer, skip_locked=True)
        )
    ).all()
    for mine, offer in ended:
        mine.state = EXPIRED
        mine.updated_at = now
        reason = "archived" if offer.state == ARCHIVED else "ended"
        event = OfferExpired(
            member_id=mine.member_id, offer_id=offer.id, offer_key=offer.key, reason=reason
        )
        emit(s, event, now)
    return len(ended)
