"""The profile a member keeps: which fields there are, and how what is sent gets checked."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.members.contact import normalise_phone
from loyalty.members.errors import MembersError
from loyalty.members.models import Member

# What a complete profile has (completing it may earn a bonus).
PROFILE_FIELDS = ("first_name", "last_name", "birth_date", "phone")
CONTACT_CHANNELS = ("email", "sms", "push", "in_app")
MAX_INTERESTS = 30
MAX_NAME = 100
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_INTEREST = re.compile(r"^[\w][\w &'/-]{0,39}$")


class Unset:
    """Marks a profile field the caller did not send, as opposed to one sent as null."""


UNSET = Unset()


@dataclass
class ProfileInput:
    first_name: str | None | Unset = UNSET
    last_name: str | None | Unset = UNSET
    birth_date: date | None | Unset = UNSET
    phone: str | None | Unset = UNSET
    locale: str | None | Unset = UNSET
    preferred_channel: str | None | Unset = UNSET
    interests: Sequence[str] | None | Unset = UNSET
    # An IANA zone such as Europe/Amsterdam; None: the programme's.
    time_zone: str | None | Unset = UNSET


def clean_profile(data: ProfileInput, *, today: date, country: str) -> dict[str, object]:
    """Validate and normalise the fields that were sent; every problem is reported at once."""
    cleaners: dict[str, Callable[[Any], object]] = {
        "first_name": lambda v: _clean_name(v, "firstName"),
        "last_name": lambda v: _clean_name(v, "lastName"),
        "birth_date": lambda v: _clean_birth_date(v, today),
        "phone": lambda v: normalise_phone(v, country) if v else None,
        "locale": _clean_locale,
        "preferred_channel": _clean_channel,
        "interests": _clean_interests,
        "time_zone": _clean_time_zone,
    }
    values: dict[str, object] = {}
    problems: list[DomainError] = []
    for name, clean in cleaners.items():
        raw = getattr(data, name)
        if isinstance(raw, Unset):
            continue
        try:
            values[name] = clean(raw)
        except DomainError as exc:
            problems.append(exc)
    if problems:
        raise ValidationFailed(problems)
    return values


def profile_complete(member: Member) -> bool:
    return all(getattr(member, name) for name in PROFILE_FIELDS)


def _clean_name(raw: str | None, field_name: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = " ".join(raw.split())
    if len(value) > MAX_NAME:
        raise DomainError(
            MembersError.INVALID_NAME, f"Names are at most {MAX_NAME} characters", field_name
        )
    return value


def _clean_birth_date(value: date | None, today: date) -> date | None:
    if value is None:
        return None
    if value > today or value.year < 1900:
        raise DomainError(
            MembersError.INVALID_BIRTH_DATE, "Birth date must be a real past date", "birthDate"
        )
    return value


def _clean_locale(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().replace("_", "-")
    if not _LOCALE.match(value):
        raise DomainError(
            MembersError.INVALID_LOCALE, "Locale must look like nl-NL or en", "locale"
        )
    return value


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _clean_time_zone(value: str | None) -> str | None:
    """An IANA time zone name as the tz database spells it (Europe/Amsterdam), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value not in _zones():
        raise DomainError(
            MembersError.INVALID_TIME_ZONE,
            "Time zone must be an IANA name such as Europe/Amsterdam",
            "timeZone",
        )
    return value


def _clean_channel(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in CONTACT_CHANNELS:
        raise DomainError(
            MembersError.INVALID_CHANNEL,
            f"Channel must be one of {', '.join(CONTACT_CHANNELS)}",
            "preferredChannel",
        )
    return value


def _clean_interests(values: Sequence[str] | None) -> list[str]:
    cleaned: list[str] = []
    for raw in values or ():
        value = " ".join(raw.split()).lower()
        if not _INTEREST.match(value):
            raise DomainError(
                MembersError.INVALID_INTEREST,
                f"Interest {raw!r} must be 1-40 letters, digits or spaces",
                "interests",
            )
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_INTERESTS:
        raise DomainError(
            MembersError.INVALID_INTEREST, f"At most {MAX_INTERESTS} interests", "interests"
        )
    return cleaned
