"""The fraud policy: what each signal weighs, and what a score means under the programme's
thresholds (allow, hold for review, block)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from loyalty.programme.referrals_spec import FraudPolicy


class Reason(StrEnum):
    """Why a referral looks risky; the codes admins and webhooks see."""

    SAME_EMAIL = "SAME_EMAIL"  # the friend's address reaches the referrer's mailbox
    SAME_PHONE = "SAME_PHONE"
    SAME_DEVICE = "SAME_DEVICE"
    SAME_PAYMENT = "SAME_PAYMENT"  # the friend paid with the referrer's card
    EMAIL_LOOKALIKE = "EMAIL_LOOKALIKE"  # a few edits from the referrer's address
    DISPOSABLE_EMAIL = "DISPOSABLE_EMAIL"  # a throwaway mail domain
    SHARED_IDENTITY = "SHARED_IDENTITY"  # phone, device or card of another member
    SHARED_PAYMENT = "SHARED_PAYMENT"  # a card another friend of the same referrer paid with
    CODE_VELOCITY = "CODE_VELOCITY"  # many sign-ups with this code lately
    CLIENT_VELOCITY = "CLIENT_VELOCITY"  # many sign-ups from this client address lately
    REFERRAL_RING = "REFERRAL_RING"  # the friend is someone up the referrer's own chain


WEIGHTS: dict[Reason, int] = {
    Reason.SAME_EMAIL: 100,
    Reason.SAME_PHONE: 100,
    Reason.SAME_DEVICE: 100,
    Reason.SAME_PAYMENT: 100,
    Reason.EMAIL_LOOKALIKE: 40,
    Reason.DISPOSABLE_EMAIL: 40,
    Reason.SHARED_IDENTITY: 30,
    Reason.SHARED_PAYMENT: 60,
    Reason.CODE_VELOCITY: 50,
    Reason.CLIENT_VELOCITY: 50,
    Reason.REFERRAL_RING: 60,
}
# The same person on both sides: refused whatever the thresholds say.
SELF_REFERRAL = frozenset(
    {Reason.SAME_EMAIL, Reason.SAME_PHONE, Reason.SAME_DEVICE, Reason.SAME_PAYMENT}
)


class Decision(StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    BLOCK = "block"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    score: int
    reasons: tuple[Reason, ...]

    @property
    def self_referral(self) -> bool:
        return any(r in SELF_REFERRAL for r in self.reasons)

    @property
    def reason_codes(self) -> list[str]:
        return [r.value for r in self.reasons]


def decide(reasons: set[Reason], policy: FraudPolicy) -> Verdict:
    ordered = tuple(sorted(reasons, key=lambda r: (-WEIGHTS[r], r.value)))
    score = sum(WEIGHTS[r] for r in ordered)
    if any(r in SELF_REFERRAL for r in ordered) or score >= policy.block_at:
        decision = Decision.BLOCK
    elif score >= policy.hold_at:
        decision = Decision.HOLD
    else:
        decision = Decision.ALLOW
    return Verdict(decision, score, ordered)
