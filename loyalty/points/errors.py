"""Error codes of the points area (purchases, returns, events, adjustments, the ledger)."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class PointsError(ErrorCode):
    """Why a change of points was refused."""

    INVALID_MEMBER_REFERENCE = "INVALID_MEMBER_REFERENCE"  # not exactly one of id/number/card
    MEMBER_NOT_ACTIVE = "MEMBER_NOT_ACTIVE"
    INVALID_EXTERNAL_ID = "INVALID_EXTERNAL_ID"
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    EMPTY_PURCHASE = "EMPTY_PURCHASE"
    TOO_MANY_LINES = "TOO_MANY_LINES"
    INVALID_LINE = "INVALID_LINE"  # no SKU, a quantity or price out of range
    INVALID_AMOUNT = "INVALID_AMOUNT"  # a money amount the database cannot hold
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"  # not the programme's currency
    INVALID_RETURN = "INVALID_RETURN"  # neither or both of lines and amount
    PURCHASE_NOT_FOUND = "PURCHASE_NOT_FOUND"
    RETURN_EXCEEDS_PURCHASE = "RETURN_EXCEEDS_PURCHASE"
    RETURN_LINE_NOT_IN_PURCHASE = "RETURN_LINE_NOT_IN_PURCHASE"
    INVALID_EVENT = "INVALID_EVENT"  # an event name that is empty or too long
    REASON_REQUIRED = "REASON_REQUIRED"
    INVALID_POINTS = "INVALID_POINTS"  # an adjustment of zero or of an absurd size
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
