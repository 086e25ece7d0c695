"""The shape of a programme file, as pydantic models.

Each top-level section of the file is one model hanging off `ProgrammeFile`; new sections
(tiers, earning rules, rewards, ...) are added there as optional fields so older files keep
loading. Validation messages are written for the programme manager who edits the file.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails

from loyalty.programme.campaigns_checks import Known, campaign_problems
from loyalty.programme.campaigns_spec import CampaignsSection
from loyalty.programme.groups_spec import (
    OfferGroupSpec,
    declared_categories,
    earning_category_problems,
    offer_group_problems,
)
from loyalty.programme.offers_spec import (
    OfferSpec,
    StoreSpec,
    offer_reference_problems,
)
from loyalty.programme.referrals_spec import ReferralsSpec, referral_problems
from loyalty.programme.segments_spec import (
    SegmentSpec,
    offer_segment_problems,
    segment_reference_problems,
)
from loyalty.programme.spec_base import (
    CategoryName,
    CountryCode,
    CurrencyCode,
    DisplayName,
    EventName,
    Key,
    LocaleTag,
    Money,
    Period,
    Slug,
    SpecModel,
    TimezoneName,
    Weekday,
    _check_locales,
    _require_unique,
)
from loyalty.programme.surveys_spec import (
    SurveysSection,
    survey_problems,
    survey_segment_problems,
)
from loyalty.programme.wallet_spec import WalletSpec


class ProgrammeSpec(SpecModel):
    """Who the programme is: its identity, money and locale settings."""

    key: Slug
    name: DisplayName
    currency: CurrencyCode
    # Money value of ONE point in `currency`: "0.01" means a point is worth one cent.
    point_value: Decimal = Field(gt=0, decimal_places=6)
    timezone: TimezoneName
    # Default region for reading phone numbers written without a country code.
    country: CountryCode = "NL"
    # The first locale is the programme's default.
    locales: Annotated[list[LocaleTag], Field(min_length=1), AfterValidator(_check_locales)] = [
        "nl-NL"
    ]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances per key

    @property
    def default_locale(self) -> str:
        return self.locales[0]


class ExpirySpec(SpecModel):
    """When earned points expire, in programme time. `after_days`: at the end of the Nth day
    after earning; `after_months`: at the end of the same day of the month `months` later,
    clamped to the month's end (31 January + 1 month: the end of 28 or 29 February);
    `end_of_day`: at the end of the day earned; `end_of_month`: at the end of the month
    `months` after the month earned; `end_of_year`: at the end of the year `years` after the
    year earned; `never`. `round_up_to` moves the expiry to the end of the week (Sunday),
    month, quarter, half-year or year it falls in; `counted_from: available` counts from when
    pending points become spendable instead of from earning."""

    method: Literal[
        "after_days", "after_months", "end_of_day", "end_of_month", "end_of_year", "never"
    ] = "never"
    days: int = Field(365, ge=1, le=3650)
    months: int = Field(12, ge=0, le=120)
    years: int = Field(1, ge=0, le=10)
    round_up_to: Literal["none", "week", "month", "quarter", "half_year", "year"] = "none"
    counted_from: Literal["earning", "available"] = "earning"
    # Members are warned this many days before points expire.
    warn_days_before: int = Field(30, ge=0, le=365)

    @model_validator(mode="after")
    def _months_for_after_months(self) -> ExpirySpec:
        if self.method == "after_months" and self.months < 1:
            raise _problem(("months",), "after_months needs `months` of at least 1")
        return self


class PointsSpec(SpecModel):
    """How points behave once earned."""

    # Purchase points stay pending this long (the return window) before they can be spent.
    pending_days: int = Field(0, ge=0, le=365)
    # Purchase points stay pending until this event names the purchase (in its property
    # `purchaseExternalId`), e.g. `order.fulfilled` from the web shop; `pending_days` then
    # counts from the event.
    pending_until_event: EventName | None = None
    expiry: ExpirySpec = ExpirySpec()
    # Whether a return may take the balance below zero (the member then owes points).
    allow_negative_balance: bool = False


class Schedule(SpecModel):
    """When a rule applies, in programme time. Every part given must match."""

    days: list[Weekday] | None = None
    from_time: time | None = None  # inclusive, e.g. "07:00"
    until_time: time | None = None  # exclusive
    starts: date | None = None  # inclusive
    ends: date | None = None  # inclusive


class Cap(SpecModel):
    """At most `points` from this rule per member per `per`."""

    per: Period
    points: int = Field(ge=1)


class BaseRate(SpecModel):
    """Points for the money spent on eligible lines."""

    points_per_unit: Decimal = Field(Decimal(1), ge=0)  # per 1 unit of the currency
    rounding: Literal["down", "nearest", "up"] = "down"
    min_order: Money = Decimal(0)
    exclude_categories: list[str] = []
    exclude_skus: list[str] = []


class EarningRule(SpecModel):
    """One earning rule. `multiplier` multiplies the base points of the lines it matches;
    `bonus` adds fixed points to a purchase it matches; `event` awards points for a
    non-purchase event (sign_up, profile_completed, birthday, review_written, check_in, or any
    app event name)."""

    key: Key
    kind: Literal["multiplier", "bonus", "event"]
    description: str | None = None
    priority: int = 0  # higher runs first
    stop: bool = False  # no lower-priority rule runs after this one matched
    multiplier: Decimal | None = Field(None, gt=0)
    points: int | None = Field(None, ge=1)
    event: str | None = None
    categories: list[str] = []
    skus: list[str] = []
    min_order: Money | None = None
    tiers: list[Key] = []
    schedule: Schedule | None = None
    cap: Cap | None = None
    # For events: how many times a member can earn from this rule per period (None: no limit).
    max_times: int | None = Field(None, ge=1)
    max_times_per: Literal["day", "week", "month", "year", "ever"] = "ever"

    @model_validator(mode="after")
    def _fits_kind(self) -> EarningRule:
        if self.kind == "multiplier" and self.multiplier is None:
            raise ValueError("a multiplier rule needs `multiplier`")
        if self.kind in ("bonus", "event") and self.points is None:
            raise ValueError(f"a {self.kind} rule needs `points`")
        if self.kind == "event" and not self.event:
            raise ValueError("an event rule needs `event`")
        return self


class EarningSpec(SpecModel):
    base: BaseRate = BaseRate()
    rules: list[EarningRule] = []
    # Caps on everything a member earns from purchases, per period.
    caps: list[Cap] = []

    @model_validator(mode="after")
    def _unique_keys(self) -> EarningSpec:
        _require_unique([r.key for r in self.rules], "earning rule")
        return self


class TierLevel(SpecModel):
    key: Key
    name: DisplayName
    threshold: int = Field(ge=0)  # qualifying points (or spend in whole currency units)
    benefits: list[str] = []
    earn_multiplier: Decimal = Field(Decimal(1), ge=1)


class TierValidity(SpecModel):
    """A member's tier is reviewed every `days` calendar days, counted from the day the tier
    began (`tier_start`) or the day the member joined (`joined`)."""

    days: int = Field(ge=1, le=3650)
    counted_from: Literal["tier_start", "joined"] = "tier_start"


class TiersSpec(SpecModel):
    """Tiers: qualify on points earned, money spent or the available balance, over a window;
    upgrade at once, downgrade only at recalculation."""

    qualify_on: Literal["points", "spend", "balance"] = "points"
    window: Literal["rolling", "calendar_year", "lifetime"] = "calendar_year"
    rolling_days: int = Field(365, ge=1, le=3650)
    # Recalculate each member on their own dates instead of the window's calendar.
    validity: TierValidity | None = None
    # At recalculation, drop at most one level at a time instead of straight to qualification.
    downgrade_one_step: bool = False
    # A downgrade found at recalculation takes effect this many days later, unless the
    # member qualifies again by then.
    downgrade_grace_days: int = Field(0, ge=0, le=365)
    # At recalculation, the points earned before the period ended are reset to zero.
    reset_points: bool = False
    levels: Annotated[list[TierLevel], Field(min_length=1)]

    @model_validator(mode="after")
    def _ordered(self) -> TiersSpec:
        _require_unique([level.key for level in self.levels], "tier")
        thresholds = [level.threshold for level in self.levels]
        if thresholds != sorted(set(thresholds)) or thresholds[0] != 0:
            raise ValueError("tier thresholds must start at 0 and rise strictly")
        if self.validity is not None and self.window == "calendar_year":
            raise _problem(
                ("validity",), "validity per member needs `window: rolling` or `lifetime`"
            )
        if self.reset_points and self.window != "calendar_year" and self.validity is None:
            raise _problem(
                ("reset_points",),
                "points are reset at a recalculation that ends a period: use "
                "`window: calendar_year` or `validity`",
            )
        return self


def _problem(loc: tuple[str | int, ...], text: str) -> ValidationError:
    """A validation error at a field of the model being checked (the loader adds the path of
    the section, so the message points at the field's own line)."""
    return ValidationError.from_exception_data(
        "ProgrammeFile",
        [
            InitErrorDetails(
                type="value_error", loc=loc, input=None, ctx={"error": ValueError(text)}
            )
        ],
    )


class RewardLimit(SpecModel):
    count: int = Field(ge=1)
    per: Literal["day", "week", "month", "year", "ever"] = "ever"


class RewardSpec(SpecModel):
    key: Key
    name: DisplayName
    description: str | None = None
    kind: Literal["discount", "free_product", "gift_card", "experience", "donation"]
    points_cost: int = Field(ge=1)
    image_url: str | None = None
    stock: int | None = Field(None, ge=0)  # None: unlimited
    per_member: RewardLimit | None = None
    visible_from: datetime | None = None
    visible_until: datetime | None = None
    tiers: list[Key] = []  # only members of these tiers may redeem
    code_valid_days: int = Field(30, ge=1, le=3650)
    active: bool = True


# The offers' sections build on the models above, so they are imported here, not at the top.


class ProgrammeFile(SpecModel):
    """A whole programme file; one attribute per top-level section."""

    programme: ProgrammeSpec
    points: PointsSpec = PointsSpec()
    earning: EarningSpec = EarningSpec()
    tiers: TiersSpec | None = None
    rewards: list[RewardSpec] = []
    stores: list[StoreSpec] = []
    offers: list[OfferSpec] = []
    categories: list[CategoryName] = []
    offer_groups: list[OfferGroupSpec] = []
    segments: list[SegmentSpec] = []
    surveys: SurveysSection = SurveysSection()
    wallet: WalletSpec = WalletSpec()
    referrals: ReferralsSpec | None = None
    campaigns: CampaignsSection = CampaignsSection()

    @model_validator(mode="after")
    def _references(self) -> ProgrammeFile:
        _require_unique([r.key for r in self.rewards], "reward")
        known = {level.key for level in self.tiers.levels} if self.tiers else set()
        for owner, tiers in [(f"earning rule {r.key}", r.tiers) for r in self.earning.rules] + [
            (f"reward {r.key}", r.tiers) for r in self.rewards
        ]:
            unknown = sorted(set(tiers) - known)
            if unknown:
                raise ValueError(f"{owner} names unknown tier(s): {', '.join(unknown)}")
        problems = list(offer_reference_problems(self.offers, self.stores, known))
        categories = declared_categories(self.categories)
        problems += offer_group_problems(self.offers, self.offer_groups, categories)
        problems += earning_category_problems(
            [(("earning", "base", "exclude_categories"), self.earning.base.exclude_categories)]
            + [
                (("earning", "rules", i, "categories"), r.categories)
                for i, r in enumerate(self.earning.rules)
            ],
            categories,
        )
        stores = {s.key for s in self.stores}
        problems += segment_reference_problems(self.segments, stores, known)
        problems += offer_segment_problems(self.offers, self.segments)
        problems += survey_problems(self.surveys)
        problems += survey_segment_problems(self.surveys, {s.key for s in self.segments})
        problems += referral_problems(self.referrals, {o.key for o in self.offers})
        segments, offers = {s.key for s in self.segments}, {o.key for o in self.offers}
        problems += campaign_problems(self.campaigns, Known(segments, offers, known, set()))
        if problems:
            # Each at the offer's own line, not at the top of the file.
            raise ValidationError.from_exception_data(
                "ProgrammeFile",
                [
                    InitErrorDetails(
                        type="value_error", loc=loc, input=None, ctx={"error": ValueError(text)}
                    )
                    for loc, text in problems
                ],
            )
        return self
