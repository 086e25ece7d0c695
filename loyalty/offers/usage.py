"""The events of an offer used at the till: `offer.redeemed` with what it gave, and
`offer.expired` for the member when this use made the offer unavailable to them (their uses
are up, or the budget no longer covers it; a member who used an offer holds one of its places, so
the global limit filling up does not take it from them). Both reach the member's
`offersChanged`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import OfferExpired, OfferRedeemed
from loyalty.core.outbox import emit
from loyalty.offers.eligibility import spec_of
from loyalty.offers.models import MemberOffer, Offer

USED_UP, BUDGET_SPENT = "used_up", "budget_spent"


def gone_reason(offer: Offer, mine: MemberOffer) -> str | None:
    """Why the offer is no longer available to this member after a use (None: it still is)."""
    limit = offer.per_member_limit
    if limit is not None and mine.uses >= limit:
        return USED_UP
    budget = offer.points_budget
    if budget is not None:
        left = budget - offer.points_budget_spent
        if left <= 0 or (spec_of(offer).points or 0) > left:
            return BUDGET_SPENT
    return None


def emit_used(
    s: AsyncSession,
    offer: Offer,
    mine: MemberOffer,
    purchase_id: int | None,
    points: int,
    discount: Decimal,
    now: datetime,
) -> None:
    emit(
        s,
        OfferRedeemed(
            member_id=mine.member_id,
            offer_id=offer.id,
            offer_key=offer.key,
            purchase_id=purchase_id,
            points=points,
            discount=discount,
        ),
        now,
    )
    reason = gone_reason(offer, mine)
    if reason is not None:
        emit(
            s,
            OfferExpired(
                member_id=mine.member_id, offer_id=offer.id, offer_key=offer.key, reason=reason
            ),
            now,
        )
