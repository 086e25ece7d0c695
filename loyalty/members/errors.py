"""The codes of the members area's expected failures (the strings clients see)."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class MembersError(ErrorCode):
    EMAIL_TAKEN = "EMAIL_TAKEN"  # another account has this email address
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_NAME = "INVALID_NAME"  # a first or last name too long
    INVALID_BIRTH_DATE = "INVALID_BIRTH_DATE"  # in the future or before 1900
    INVALID_LOCALE = "INVALID_LOCALE"
    INVALID_TIME_ZONE = "INVALID_TIME_ZONE"  # not an IANA zone name
    INVALID_CHANNEL = "INVALID_CHANNEL"  # not a contact or consent channel
    INVALID_INTEREST = "INVALID_INTEREST"  # badly formed, or too many
