"""The `campaigns:` section of a programme file.

A campaign has an entry (an event such as `delivery.late`, or a schedule over a segment),
entry rules (once per member, or again after some days), a holdout share, and a journey of
steps: waits (a fixed time, until a local time on allowed weekdays, or relative to a profile
date such as the birthday), a wait for an event with a timeout, a split on a condition,
granting an offer, awarding points, sending a message, and exit. A step goes on to the next
one in the list unless it says `next` (or, for splits and waits for an event, its branches).

What a journey names (events, offers, segments, templates, other steps) and whether it can
loop or wait forever is checked when the file is loaded (`campaign_problems`), each problem
at its own line. The contact rules (`contact:`) are one budget for every marketing message:
campaigns, surveys and pushes alike.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from loyalty.programme.spec_base import DisplayName, Key, SpecModel, Weekday

Loc = tuple[str | int, ...]
EXIT = "exit"
Channel = Literal["inbox", "push", "pass", "webhook"]
ConsentName = Literal["email", "sms", "push", "in_app", "personalisation"]
CampaignState = Literal["draft", "live", "paused", "ended"]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class QuietHoursSpec(SpecModel):
    """No marketing message between `start` and `end` (wrapping midnight when start > end),
    in the member's time zone (the programme's when the member has none)."""

    start: time = time(21, 0)
    end: time = time(8, 0)


class ContactRules(SpecModel):
    """One budget per member for every marketing message, whoever sends it, counted per day
    and per (ISO) week in the member's time zone. Transactional messages are exempt."""

    per_day: int = Field(1, ge=0, le=100)
    per_week: int = Field(3, ge=0, le=500)
    quiet_hours: QuietHoursSpec | None = QuietHoursSpec()


class ControlGroupSpec(SpecModel):
    """A programme-wide control group: this share of members receives no campaign at all.
    Raising `version` draws a new group; the old ones are kept, so old reports reproduce."""

    share: float = Field(ge=0, le=0.2)
    version: int = Field(1, ge=1)


class TemplateSpec(SpecModel):
    key: Key
    title: DisplayName
    body: Text


class EntrySpec(SpecModel):
    """An `event` (with an optional `segment` the member must be in), or a `schedule` over a
    `segment` (everyone in it, every `every_days` days at `at` programme time)."""

    event: Annotated[str, StringConstraints(min_length=1, max_length=63)] | None = None
    every_days: int | None = Field(None, ge=1, le=366)
    at: time = time(9, 0)
    segment: Key | None = None

    @model_validator(mode="after")
    def _one_way_in(self) -> EntrySpec:
        if (self.event is None) == (self.every_days is None):
            raise ValueError("an entry is an `event` or a schedule (`every_days`), not both")
        if self.every_days is not None and self.segment is None:
            raise ValueError("a scheduled entry needs the `segment` it runs over")
        return self


class EntryRules(SpecModel):
    """`once`: a member enters at most once; otherwise again `reenter_after_days` after
    their last entry (and never while still in the journey)."""

    once: bool = True
    reenter_after_days: int | None = Field(None, ge=1, le=3650)

    @model_validator(mode="after")
    def _consistent(self) -> EntryRules:
        if self.once and self.reenter_after_days is not None:
            raise ValueError("`reenter_after_days` needs `once: false`")
        return self


class WaitSpec(SpecModel):
    days: int = Field(0, ge=0, le=3650)
    hours: int = Field(0, ge=0, le=24 * 365)
    minutes: int = Field(0, ge=0, le=60 * 24 * 365)

    @model_validator(mode="after")
    def _some_time(self) -> WaitSpec:
        if not (self.days or self.hours or self.minutes):
            raise ValueError("a wait needs some days, hours or minutes")
        return self


class WaitUntilSpec(SpecModel):
    """Until the next `time` (member's local time) on one of `weekdays`."""

    time: time
    weekdays: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    @model_validator(mode="after")
    def _a_way_out(self) -> WaitUntilSpec:
        if not self.weekdays:
            raise ValueError("a wait with no weekday never ends: name at least one")
        return self


class WaitForDateSpec(SpecModel):
    """Until the next yearly return of a profile date, `offset_days` before (negative) or
    after it, at `at` local time. Members without the date leave the journey."""

    field: Literal["birth_date", "joined_at"]
    offset_days: int = Field(0, ge=-60, le=60)
    at: time = time(9, 0)


class WaitForEventSpec(SpecModel):
    """Until the member's `event`, for at most `timeout_hours`; then `on_timeout` (a step
    key or exit; the next step when not given)."""

    event: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    timeout_hours: int | None = Field(None, ge=1, le=24 * 366)
    on_timeout: Key | None = None


class ConditionSpec(SpecModel):
    """Exactly one: in a `segment` now, gave a `consent`, `received` (true or false) the
    event the last wait for an event waited for, in `tier` (that tier or a higher one, now),
    or bought something in the last `purchased_within_days` days."""

    segment: Key | None = None
    consent: ConsentName | None = None
    received: bool | None = None
    tier: Key | None = None
    purchased_within_days: int | None = Field(None, ge=1, le=3650)

    @model_validator(mode="after")
    def _exactly_one(self) -> ConditionSpec:
        if sum(v is not None for _, v in self) != 1:
            raise ValueError(
                "a condition is exactly one of: segment, consent, received, tier, "
                "purchased_within_days"
            )
        return self


class SplitSpec(SpecModel):
    # Written `if` and `else` in the file; stored files and definitions dump them by name.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    when: ConditionSpec = Field(alias="if")
    then: Key
    otherwise: Key | None = Field(None, alias="else")


class GrantOfferSpec(SpecModel):
    offer: Key


class AwardPointsSpec(SpecModel):
    points: int = Field(ge=1, le=1_000_000)
    reason: DisplayName = "Campaign bonus"


class SendSpec(SpecModel):
    channel: Channel
    template: Key
    # Transactional messages (about the member's own account) skip the budget and quiet hours.
    transactional: bool = False


# Events that cannot start a campaign or end a wait: too frequent, or the campaigns' own.
NOT_ENTRY_EVENTS = frozenset(
    {"balance.changed", "offer.changed", "campaign.entered", "campaign.message"}
)
ACTIONS: tuple[str, ...] = ("wait", "wait_until", "wait_for_date", "wait_for", "split")
ACTIONS += ("grant_offer", "award_points", "send", "exit")


class StepSpec(SpecModel):
    key: Key
    next: Key | None = None
    wait: WaitSpec | None = None
    wait_until: WaitUntilSpec | None = None
    wait_for_date: WaitForDateSpec | None = None
    wait_for: WaitForEventSpec | None = None
    split: SplitSpec | None = None
    grant_offer: GrantOfferSpec | None = None
    award_points: AwardPointsSpec | None = None
    send: SendSpec | None = None
    exit: bool | None = None

    @model_validator(mode="after")
    def _one_action(self) -> StepSpec:
        given = [name for name in ACTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a step does exactly one of: {', '.join(ACTIONS)}")
        return self

    @property
    def action(self) -> str:
        return next(name for name in ACTIONS if getattr(self, name) is not None)


class EvaluationSpec(SpecModel):
    conversion_days: int = Field(30, ge=1, le=365)
    retention_days: int = Field(90, ge=1, le=730)
    pre_period_days: int = Field(90, ge=7, le=730)


class CampaignSpec(SpecModel):
    key: Key
    name: DisplayName
    state: CampaignState = "live"
    holdout_share: float = Field(0.1, ge=0, le=0.5)
    entry: EntrySpec
    rules: EntryRules = EntryRules()
    evaluation: EvaluationSpec = EvaluationSpec()
    steps: Annotated[list[StepSpec], Field(min_length=1, max_length=100)]

    def step(self, key: str) -> StepSpec | None:
        return next((s for s in self.steps if s.key == key), None)


class CampaignsSection(SpecModel):
    # None: the settings' budget (TROUW_QUIET_HOURS_*, TROUW_MARKETING_*_CAP) applies.
    contact: ContactRules | None = None
    control_group: ControlGroupSpec | None = None
    templates: list[TemplateSpec] = []
    definitions: list[CampaignSpec] = []


def successors(spec: CampaignSpec, index: int) -> list[tuple[str, str]]:
    """(how, step key or "exit") for each way out of step `index`."""
    step = spec.steps[index]
    following = spec.steps[index + 1].key if index + 1 < len(spec.steps) else EXIT
    default = step.next or following
    if step.exit:
        return []
    if step.split is not None:
        return [("then", step.split.then), ("else", step.split.otherwise or default)]
    if step.wait_for is not None and step.wait_for.on_timeout is not None:
        return [("next", default), ("on_timeout", step.wait_for.on_timeout)]
    return [("next", default)]
