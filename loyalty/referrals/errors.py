"""Codes of the referrals area: why a referral code was not used on sign-up (a notice; the
sign-up itself goes through), and why an admin's review was refused."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class ReferralsError(ErrorCode):
    # Notices on sign-up: the code is ignored, nothing is credited.
    INVALID_REFERRAL_CODE = "INVALID_REFERRAL_CODE"  # not shaped like a code
    UNKNOWN_REFERRAL_CODE = "UNKNOWN_REFERRAL_CODE"  # no member has this code
    OWN_REFERRAL_CODE = "OWN_REFERRAL_CODE"  # the same person on both sides
    REFERRER_INACTIVE = "REFERRER_INACTIVE"  # the code's member is blocked or closed
    REFERRALS_CLOSED = "REFERRALS_CLOSED"  # the programme has no referrals section
    REFERRAL_REFUSED = "REFERRAL_REFUSED"  # the fraud checks refused it
    REFERRAL_UNDER_REVIEW = "REFERRAL_UNDER_REVIEW"  # held for an admin's review
    # Reviews.
    REFERRAL_NOT_FOUND = "REFERRAL_NOT_FOUND"
    REFERRAL_NOT_HELD = "REFERRAL_NOT_HELD"  # only held referrals are reviewed
    INVALID_REVIEW_NOTE = "INVALID_REVIEW_NOTE"  # too long, or control characters
