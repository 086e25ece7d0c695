"""Error codes of data exports and erasure."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class PrivacyError(ErrorCode):
    CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
    WRONG_PASSWORD = "WRONG_PASSWORD"  # noqa: S105 (an error code)
    ERASURE_PENDING = "ERASURE_PENDING"
    NO_PENDING_ERASURE = "NO_PENDING_ERASURE"
    MEMBER_ERASED = "MEMBER_ERASED"
    INVALID_GRACE_PERIOD = "INVALID_GRACE_PERIOD"
