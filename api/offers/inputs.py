"""Inputs of offers: the app's context, and activating an offer."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry import UNSET

from loyalty.offers.context import AppContext, parse_context


@strawberry.enum
class OfferKind(Enum):
    BONUS_POINTS = "bonus_points"
    POINTS_MULTIPLIER = "points_multiplier"
    PERCENT_OFF = "percent_off"
    AMOUNT_OFF = "amount_off"
    FREE_ITEM = "free_item"


@strawberry.input(description="Where and when the member is, as the app knows it.")
class OfferContextInput:
    latitude: float | None = None
    longitude: float | None = None
    weather: str | None = strawberry.field(
        default=None, description="sunny, cloudy, rain, snow, storm, fog, wind, heat or frost."
    )
    temperature: float | None = strawberry.field(default=None, description="In °C.")

    def to_domain(self, field: str = "context") -> AppContext:
        return parse_context(self.latitude, self.longitude, self.weather, self.temperature, field)


@strawberry.input
class ActivateOfferInput:
    offer_id: strawberry.ID
    context: OfferContextInput | None = None


@strawberry.enum(description="How a member gets an offer: they activate (clip) it, or it applies.")
class OfferActivation(Enum):
    CLIP = "clip"
    AUTO = "auto"


@strawberry.enum(description="Where an offer is in its life, for those who manage it.")
class OfferLifecycle(Enum):
    DRAFT = "draft"
    LIVE = "live"
    PAUSED = "paused"
    ARCHIVED = "archived"


@strawberry.input(description="Who may have the offer; every part given must hold.")
class OfferEligibilityInput:
    tiers: list[str] | None = UNSET
    interests: list[str] | None = UNSET
    birthday_month: bool | None = UNSET
    first_purchase: bool | None = UNSET
    min_days_since_joining: int | None = UNSET
    max_days_since_joining: int | None = UNSET


@strawberry.input(
    description="Where and when the offer fits, from what the app reports; times are local "
    "to the programme, days are mon…sun."
)
class OfferFitInput:
    stores: list[str] | None = UNSET
    radius_m: int | None = UNSET
    days: list[str] | None = UNSET
    from_time: time | None = UNSET
    until_time: time | None = UNSET
    weather: list[str] | None = UNSET
    min_temperature: float | None = UNSET
    max_temperature: float | None = UNSET


@strawberry.input(description="The parts of an offer that can be changed after it is made.")
class OfferFieldsInput:
    title: str | None = UNSET
    description: str | None = UNSET
    terms: str | None = UNSET
    image_url: str | None = UNSET
    points: int | None = strawberry.field(default=UNSET, description="bonus_points: the points.")
    multiplier: Decimal | None = strawberry.field(
        default=UNSET, description="points_multiplier: more than 1."
    )
    percent: Decimal | None = strawberry.field(default=UNSET, description="percent_off.")
    amount: Decimal | None = strawberry.field(default=UNSET, description="amount_off.")
    item: str | None = strawberry.field(default=UNSET, description="free_item: what is free.")
    categories: list[str] | None = UNSET
    activation: OfferActivation | None = UNSET
    valid_from: datetime | None = UNSET
    valid_until: datetime | None = UNSET
    per_member_limit: int | None = UNSET
    global_limit: int | None = UNSET
    points_budget: int | None = UNSET
    coupon_code: str | None = strawberry.field(
        default=UNSET, description="One code for every member (null: none)."
    )
    per_member_coupon: bool | None = strawberry.field(
        default=UNSET, description="Give each member who activates it a code of their own."
    )
    eligibility: OfferEligibilityInput | None = strawberry.field(
        default=UNSET, description="Replaces the whole eligibility; null: everyone."
    )
    context: OfferFitInput | None = strawberry.field(
        default=UNSET, description="Replaces the whole context; null: anywhere, any time."
    )

    def changes(self) -> dict[str, Any]:
        """The fields given, as the programme file's offer spells them."""
        given = _given(self, skip={"coupon_code", "per_member_coupon"})
        if self.coupon_code is not UNSET or self.per_member_coupon is not UNSET:
            given["coupon"] = (
                {"shared": self.coupon_code}
                if self.coupon_code
                else ("per_member" if self.per_member_coupon else "none")
            )
        return given


@strawberry.input
class CreateOfferInput(OfferFieldsInput):
    key: str
    title: str
    kind: OfferKind
    state: OfferLifecycle = OfferLifecycle.DRAFT

    def definition(self) -> dict[str, Any]:
        return {**self.changes(), "key": self.key, "title": self.title, "kind": self.kind.value}


@strawberry.input
class UpdateOfferInput(OfferFieldsInput):
    offer_id: strawberry.ID
    state: OfferLifecycle | None = UNSET
    expected_version: int | None = strawberry.field(
        default=UNSET, description="Refuse the change when the offer is at another version."
    )


@strawberry.input
class PauseOfferInput:
    offer_id: strawberry.ID
    expected_version: int | None = None


def _given(data: object, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for item in dataclasses.fields(data):  # type: ignore[arg-type]
        value = getattr(data, item.name)
        if item.name in skip or value is UNSET or item.name in _NOT_SPEC:
            continue
        if dataclasses.is_dataclass(value):
            value = _given(value)
        elif value is None and item.name in _SECTIONS:
            value = {}  # null: back to the default (no conditions)
        elif isinstance(value, Enum):
            value = value.value
        given[item.name] = value
    return given


_NOT_SPEC = {"offer_id", "state", "expected_version"}
_SECTIONS = {"eligibility", "context"}
