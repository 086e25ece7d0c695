"""Inputs of referrals: an admin's review of a held referral."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="An admin's decision on a held referral.")
class ReviewDecision(Enum):
    APPROVE = "approve"
    REJECT = "reject"


@strawberry.input(
    description="Approve a held referral (it goes on: rewards follow the friend's qualifying "
    "purchase) or reject it (no rewards). `note` is kept with the decision."
)
class ReviewReferralInput:
    referral_id: strawberry.ID
    decision: ReviewDecision
    note: str | None = None
