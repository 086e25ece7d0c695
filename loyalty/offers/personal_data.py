"""What offers holds about a member: offers given to them and their uses (kept on erasure,
for budgets and the books)."""

from __future__ import annotations

from loyalty.core.personal_data import Holding, PersonalDataRegistry, keep, rows_of
from loyalty.offers.models import MemberOffer, OfferApplication


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "offers",
            "offers",
            ("member_offers",),
            rows_of(MemberOffer),
            keep,
            erasure="kept: states, uses and dates",
        )
    )
    registry.add(
        Holding(
            "offers",
            "offerUses",
            ("offer_applications",),
            rows_of(OfferApplication),
            keep,
            erasure="kept: points and discounts given",
        )
    )
