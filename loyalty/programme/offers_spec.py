"""The `stores:` and `offers:` sections of a programme file.

A store is a place with coordinates; an offer may ask that the member be within a radius of
one of its stores. An offer says what it gives (its kind and value), who may have it
(eligibility), where and when it fits (context), how long it runs, how often it may be used,
and whether it carries a coupon code. References to stores and tiers are checked by
`ProgrammeFile` (`check_offer_references`), each at the offer's own line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from loyalty.programme.spec_base import (
    CategoryName,
    DisplayName,
    Key,
    SpecModel,
    Weekday,
    _require_unique,
)

# The weather words an app may report; offers choose among the same words.
WEATHER_WORDS = ("sunny", "cloudy", "rain", "snow", "storm", "fog", "wind", "heat", "frost")
Weather = Literal["sunny", "cloudy", "rain", "snow", "storm", "fog", "wind", "heat", "frost"]
OfferKind = Literal["bonus_points", "points_multiplier", "percent_off", "amount_off", "free_item"]
# A temperature in degrees Celsius that the earth's surface can have.
MIN_TEMPERATURE = -90
MAX_TEMPERATURE = 60
_COUPON = re.compile(r"[A-Z0-9][A-Z0-9-]{2,31}")


def _coupon(value: str) -> str:
    if not _COUPON.fullmatch(value):
        raise ValueError("a coupon code is 3 to 32 upper-case letters, digits and '-'")
    return value


class StoreSpec(SpecModel):
    """A store the offers can be near."""

    key: Key
    name: DisplayName
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class SharedCoupon(SpecModel):
    """One code for every member (`coupon: {shared: KOFFIE10}`)."""

    shared: Annotated[str, AfterValidator(_coupon)]


class Eligibility(SpecModel):
    """Who may have the offer. Every part given must hold. Each part reads the member's own
    data, so an offer with any of them is personalised and needs the member's consent."""

    tiers: list[Key] = []
    interests: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = []
    birthday_month: bool = False  # only in the member's birth month
    first_purchase: bool = False  # only for members who have not bought yet
    min_days_since_joining: int | None = Field(None, ge=0, le=36500)
    max_days_since_joining: int | None = Field(None, ge=0, le=36500)
    segments: list[Key] = []  # a member of any of these segments (`segments:` of the file)
    # Only for members a campaign granted it to (`grant_offer`); nobody can clip it.
    granted_only: bool = False

    @model_validator(mode="after")
    def _days_in_order(self) -> Eligibility:
        low, high = self.min_days_since_joining, self.max_days_since_joining
        if low is not None and high is not None and low > high:
            raise ValueError("min_days_since_joining must not exceed max_days_since_joining")
        return self

    @property
    def personalised(self) -> bool:
        return bool(
            self.tiers
            or self.interests
            or self.birthday_month
            or self.first_purchase
            or self.min_days_since_joining is not None
            or self.max_days_since_joining is not None
            or self.segments
        )


class OfferContext(SpecModel):
    """Where and when the offer fits, from what the app reports. Every part given must hold.
    `from_time`/`until_time` are local times in the programme's time zone; a window whose
    end is before its start runs past midnight (the weekday is the one it started on)."""

    stores: list[Key] = []
    radius_m: int | None = Field(None, ge=10, le=100_000)
    days: list[Weekday] = []
    from_time: time | None = None  # inclusive
    until_time: time | None = None  # exclusive
    weather: list[Weather] = []
    min_temperature: float | None = Field(None, ge=MIN_TEMPERATURE, le=MAX_TEMPERATURE)
    max_temperature: float | None = Field(None, ge=MIN_TEMPERATURE, le=MAX_TEMPERATURE)

    @model_validator(mode="after")
    def _complete(self) -> OfferContext:
        if bool(self.stores) != (self.radius_m is not None):
            raise ValueError("`stores` and `radius_m` go together")
        if (self.from_time is None) != (self.until_time is None):
            raise ValueError("`from_time` and `until_time` go together")
        if self.from_time is not None and self.from_time == self.until_time:
            raise ValueError("`from_time` and `until_time` must differ")
        low, high = self.min_temperature, self.max_temperature
        if low is not None and high is not None and low > high:
            raise ValueError("min_temperature must not exceed max_temperature")
        return self


class OfferSpec(SpecModel):
    """One offer. `kind` says which value field it needs: `points` (bonus_points),
    `multiplier` (points_multiplier), `percent` (percent_off), `amount` (amount_off) or
    `item` (free_item)."""

    key: Key
    title: DisplayName
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    terms: Annotated[str, StringConstraints(max_length=4000)] | None = None
    image_url: Annotated[str, StringConstraints(max_length=1024)] | None = None
    kind: OfferKind
    points: int | None = Field(None, ge=1, le=1_000_000)
    multiplier: Decimal | None = Field(None, gt=1, le=100)
    percent: Decimal | None = Field(None, gt=0, le=100)
    amount: Decimal | None = Field(None, gt=0, decimal_places=2)
    item: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    activation: Literal["clip", "auto"] = "clip"
    paused: bool = False
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    per_member_limit: int | None = Field(None, ge=1, le=1000)
    global_limit: int | None = Field(None, ge=0)
    points_budget: int | None = Field(None, ge=0)
    coupon: Literal["none", "per_member"] | SharedCoupon = "none"
    eligibility: Eligibility = Eligibility()
    context: OfferContext = OfferContext()
    # At the till (loyalty/offers/till.py): which lines the offer works on (none: all), the
    # group it combines in (`offer_groups:`) and its place in that group (higher first). The
    # categories also tell the ranking what the offer is about.
    categories: list[CategoryName] = []
    skus: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = []
    group: Key | None = None
    priority: int = Field(0, ge=-1000, le=1000)

    @model_validator(mode="after")
    def _fits_kind(self) -> OfferSpec:
        needed = {
            "bonus_points": "points",
            "points_multiplier": "multiplier",
            "percent_off": "percent",
            "amount_off": "amount",
            "free_item": "item",
        }[self.kind]
        if getattr(self, needed) is None:
            raise ValueError(f"a {self.kind} offer needs `{needed}`")
        extra = [f for f in ("points", "multiplier", "percent", "amount", "item") if f != needed]
        given = [f for f in extra if getattr(self, f) is not None]
        if given:
            raise ValueError(f"a {self.kind} offer takes `{needed}`, not {', '.join(given)}")
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise ValueError("valid_from must be before valid_until")
        return self

    @property
    def shared_code(self) -> str | None:
        return self.coupon.shared if isinstance(self.coupon, SharedCoupon) else None

    @property
    def coupon_mode(self) -> str:
        return "shared" if isinstance(self.coupon, SharedCoupon) else self.coupon


def offer_reference_problems(
    offers: list[OfferSpec], stores: list[StoreSpec], tiers: set[str]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(location, message) for each offer that names an unknown store or tier, or a code
    used twice; raises ValueError for keys used twice (said at the section)."""
    _require_unique([s.key for s in stores], "store")
    _require_unique([o.key for o in offers], "offer")
    known_stores = {s.key for s in stores}
    shared: dict[str, str] = {}
    for index, offer in enumerate(offers):
        unknown = sorted(set(offer.context.stores) - known_stores)
        if unknown:
            where = ("offers", index, "context", "stores")
            yield where, f"offer {offer.key} names unknown store(s): {', '.join(unknown)}"
        unknown = sorted(set(offer.eligibility.tiers) - tiers)
        if unknown:
            where = ("offers", index, "eligibility", "tiers")
            yield where, f"offer {offer.key} names unknown tier(s): {', '.join(unknown)}"
        code = offer.shared_code
        if code is not None and code in shared:
            where = ("offers", index, "coupon", "shared")
            yield where, f"coupon code {code} is already the code of offer {shared[code]}"
        elif code is not None:
            shared[code] = offer.key
