"""Building blocks every section of a programme file uses: the base model, keys, names,
codes, time zones, periods and weekdays, with messages written for programme managers."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from loyalty.core.text import has_control_characters

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
# Language, optional script, optional region: "en", "nl-NL", "zh-Hant-TW", "es-419".
_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?")


def _matching(pattern: re.Pattern[str], message: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    # Malformed keys raise ValueError; directory names such as "Europe" raise OSError.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Amsterdam'"
        ) from None
    return value


def _check_locales(value: list[str]) -> list[str]:
    duplicates = sorted({tag for tag in value if value.count(tag) > 1})
    if duplicates:
        raise ValueError(f"locale listed more than once: {', '.join(duplicates)}")
    return value


def _require_unique(keys: list[str], what: str) -> None:
    seen = sorted({k for k in keys if keys.count(k) > 1})
    if seen:
        raise ValueError(f"{what} key used more than once: {', '.join(seen)}")


Slug = Annotated[
    str,
    _matching(
        _SLUG,
        "must be 2 to 63 characters of lower-case letters, digits and '-', "
        "starting with a letter or digit",
    ),
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
CurrencyCode = Annotated[str, _matching(_CURRENCY, "must be three upper-case letters (ISO 4217)")]
CountryCode = Annotated[str, _matching(_COUNTRY, "must be two upper-case letters (ISO 3166-1)")]
LocaleTag = Annotated[str, _matching(_LOCALE, "must be a language tag such as 'nl-NL' or 'en'")]
TimezoneName = Annotated[str, AfterValidator(_check_timezone)]


class SpecModel(BaseModel):
    """Base for every section: unknown keys are errors (typos must not pass silently), and no
    text may hold control characters (YAML escapes and the admin API's JSON can carry them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if any(has_control_characters(text) for text in _texts(value)):
            raise ValueError("the text has control characters")
        return value


def _texts(value: Any) -> list[str]:
    """The texts of one field's value; nested sections check their own fields."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset):
        return [item for item in value if isinstance(item, str)]
    if isinstance(value, dict):
        return [t for pair in value.items() for t in pair if isinstance(t, str)]
    return []


# A product category as the till sends it on a line (`categories:` declares the known ones).
CategoryName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Period = Literal["day", "week", "month", "year"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Money = Annotated[Decimal, Field(ge=0, decimal_places=2)]
Key = Slug
# An event name as tills and apps send it (lower-case, as recorded).
EventName = Annotated[
    str,
    _matching(
        re.compile(r"[a-z0-9][a-z0-9_.:-]{0,62}"),
        "must be an event name of lower-case letters, digits and '_', '.', ':' or '-'",
    ),
]
