"""Events of referrals: a friend joined with a member's code, their purchase qualified, the
rewards were given, or the referral was held for review or rejected. `member_id` is the
friend's, except for `referral.rewarded`, which is the member who got the reward."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loyalty.core.event_base import Event


@dataclass(frozen=True, kw_only=True)
class ReferralSignedUp(Event):
    name = "referral.signed_up"
    description = (
        "A friend joined with a member's referral code and the fraud checks let it through "
        "(the referral now waits for the friend's first qualifying purchase)."
    )

    referral_id: int
    referrer_id: int
    risk_score: int


@dataclass(frozen=True, kw_only=True)
class ReferralQualified(Event):
    name = "referral.qualified"
    description = (
        "The friend's first qualifying purchase was recorded; the rewards are given when its "
        "return window has passed (`rewards_due_at`) unless it comes back before."
    )

    referral_id: int
    referrer_id: int
    purchase_external_id: str
    amount: Decimal
    rewards_due_at: datetime


@dataclass(frozen=True, kw_only=True)
class ReferralRewarded(Event):
    name = "referral.rewarded"
    description = (
        "One side of a referral got its reward (`side`: referrer or friend): points, an "
        "offer, or both; once per referral and side."
    )

    referral_id: int
    side: str
    points: int
    offer_key: str | None


@dataclass(frozen=True, kw_only=True)
class ReferralHeld(Event):
    name = "referral.held"
    description = (
        "The fraud checks held a referral for an admin's review, on sign-up or when the "
        "friend paid with a card they flag (`SHARED_PAYMENT`); the reasons found."
    )

    referral_id: int
    referrer_id: int
    risk_score: int
    reasons: str  # comma-separated reason codes


@dataclass(frozen=True, kw_only=True)
class ReferralRejected(Event):
    name = "referral.rejected"
    description = (
        "A referral will give no rewards: refused by the fraud checks, rejected by an admin, "
        "or its qualifying purchase came back within the return window."
    )

    referral_id: int
    referrer_id: int
    reasons: str  # comma-separated reason codes
