"""The codes of the messaging area's expected failures (devices and the inbox)."""

# ruff: noqa: S105 - the names and values are error codes, not secrets

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class MessagingError(ErrorCode):
    INVALID_TOKEN = "INVALID_TOKEN"  # a push token that is empty, too long or not printable
    INVALID_PLATFORM = "INVALID_PLATFORM"  # neither ios nor android
