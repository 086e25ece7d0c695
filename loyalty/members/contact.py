"""Normalising the ways we reach a member, so that one person is one address."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from loyalty.core.errors import DomainError
from loyalty.members.errors import MembersError


def normalise_email(raw: str, field: str = "email") -> str:
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise DomainError(
            MembersError.INVALID_EMAIL, f"Not a valid email address: {exc}", field
        ) from None
    # Mail providers treat the local part case-insensitively in practice; so do we.
    return result.normalized.lower()


def normalise_phone(raw: str, default_region: str, field: str = "phone") -> str:
    """E.164, e.g. +31612345678; numbers without a country code are read in `default_region`."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise DomainError(MembersError.INVALID_PHONE, "Not a valid phone number", field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
