"""Telling everyone at once that an offer came or went: an offer event with no member
(`member_id` None), published on the programme-wide channel. Each member's `offersChanged`
hears it only if it changes what that member may have (`OffersService.for_everyone`), so a new
offer costs one event, not one per member."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import OfferExpired, OfferGranted
from loyalty.core.outbox import emit
from loyalty.offers.models import Offer

# Why an offer came or went for everyone (the events' `reason`).
NEW, CHANGED, RESUMED = "new", "changed", "resumed"
PAUSED, ARCHIVED, LIMIT_REACHED, BUDGET_SPENT = (
    "paused",
    "archived",
    "limit_reached",
    "budget_spent",
)


def offer_came(s: AsyncSession, offer: Offer, reason: str, now: datetime) -> None:
    emit(
        s, OfferGranted(member_id=None, offer_id=offer.id, offer_key=offer.key, reason=reason), now
    )


def offer_went(s: AsyncSession, offer: Offer, reason: str, now: datetime) -> None:
    emit(
        s, OfferExpired(member_id=None, offer_id=offer.id, offer_key=offer.key, reason=reason), now
    )


def used_up_reason(offer: Offer, next_points: int) -> str | None:
    """Why nobody new can have the offer after a use, if that is so: the global limit is
    taken, or the budget no longer covers one more use of `next_points`."""
    if offer.global_limit is not None and offer.activated_count >= offer.global_limit:
        return LIMIT_REACHED
    budget = offer.points_budget
    if budget is not None and next_points and offer.points_budget_spent + next_points > budget:
        return BUDGET_SPENT
    return None
