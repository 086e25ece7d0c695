"""The `referrals:` section of a programme file: what a member and the friend they bring each
get, when the friend's purchase counts, the caps and budget, and the fraud policy.

Without the section nobody earns anything for referrals (codes still exist and sign-ups with
them are still recorded and checked, so that switching referrals on later has a history).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from loyalty.programme.spec_base import Key, Money, SpecModel, _matching

ShareUrl = Annotated[
    str,
    _matching(
        re.compile(r"https://\S{3,480}\{code\}\S{0,40}"),
        "must be an https:// address with {code} where the member's code goes",
    ),
]


class ReferralReward(SpecModel):
    """What one side gets: points, an offer (by key, from `offers:`), or both."""

    points: int | None = Field(None, ge=1, le=1_000_000)
    offer: Key | None = None

    @model_validator(mode="after")
    def _something(self) -> ReferralReward:
        if self.points is None and self.offer is None:
            raise ValueError("a referral reward needs `points`, `offer` or both")
        return self


class ReferralCap(SpecModel):
    """At most `rewards` rewarded referrals per referring member per `per` (programme time)."""

    rewards: int = Field(ge=1, le=10_000)
    per: Literal["day", "week", "month", "year", "ever"] = "month"


class ReferralBudget(SpecModel):
    """Programme-wide: at most this many points given, and/or referrals rewarded, in total."""

    points: int | None = Field(None, ge=1)
    rewards: int | None = Field(None, ge=1)


class FraudPolicy(SpecModel):
    """A referral's risk score is the sum of the weights of the signals found (see
    docs/referrals.md). From `hold_at` it waits for an admin's review; from `block_at` it is
    refused. The same person on both sides (same email, phone or device) is always refused."""

    hold_at: int = Field(40, ge=1, le=1000)
    block_at: int = Field(100, ge=1, le=1000)
    # Sign-ups with one code, or from one client address, within the window; more is velocity.
    velocity_window_hours: int = Field(24, ge=1, le=24 * 30)
    max_sign_ups_per_code: int = Field(5, ge=1, le=10_000)
    max_sign_ups_per_client: int = Field(3, ge=1, le=10_000)
    # Email addresses this close to the referrer's (edits in the local part) look alike.
    email_edit_distance: int = Field(2, ge=0, le=5)

    @model_validator(mode="after")
    def _ordered(self) -> FraudPolicy:
        if self.hold_at > self.block_at:
            raise ValueError("hold_at must not be above block_at")
        return self


class ReferralsSpec(SpecModel):
    share_url: ShareUrl | None = None
    referrer: ReferralReward
    friend: ReferralReward
    # The friend's first purchase of at least this amount qualifies.
    min_purchase: Money = Decimal(0)
    # Days after the qualifying purchase before the rewards are given (a return within them
    # cancels); by default the programme's `points.pending_days`.
    return_window_days: int | None = Field(None, ge=0, le=365)
    cap: ReferralCap | None = None
    budget: ReferralBudget | None = None
    fraud: FraudPolicy = FraudPolicy()


def referral_problems(
    referrals: ReferralsSpec | None, offer_keys: set[str]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(location, message) for each reward that names an offer the file does not have."""
    if referrals is None:
        return
    for side in ("referrer", "friend"):
        reward: ReferralReward = getattr(referrals, side)
        if reward.offer is not None and reward.offer not in offer_keys:
            yield (
                ("referrals", side, "offer"),
                f"the {side}'s reward names unknown offer {reward.offer}",
            )
