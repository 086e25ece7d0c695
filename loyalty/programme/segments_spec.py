"""The `segments:` section of a programme file.

A segment is a named group of members described by rules. A rule is one condition, or
`all_of` / `any_of` a list of conditions (which nest). Each condition reads one thing the
programme knows about the member: their RFM quintiles, tier, lifecycle stage, churn risk,
interests, where they usually buy, a consent, or how often they did something lately.
References to tiers and stores are checked by `ProgrammeFile` (`segment_reference_problems`),
each at the segment's own line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from loyalty.programme.spec_base import DisplayName, Key, SpecModel, _require_unique

if TYPE_CHECKING:
    from loyalty.programme.offers_spec import OfferSpec

LifecycleStage = Literal["new", "active", "at_risk", "lapsed"]
LIFECYCLE_STAGES: tuple[str, ...] = ("new", "active", "at_risk", "lapsed")
ConsentName = Literal["email", "sms", "push", "in_app", "personalisation"]
Quintile = Annotated[int, Field(ge=1, le=5)]
# "purchase" counts purchases; any other name counts the member's recorded activities.
PURCHASE = "purchase"
EventName = Annotated[str, StringConstraints(min_length=1, max_length=63)]
Interest = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class RfmCondition(SpecModel):
    """The member's quintiles (1 low .. 5 high) across the programme's buyers; every part given
    must hold. Recency 5 means bought most recently."""

    recency: list[Quintile] = []
    frequency: list[Quintile] = []
    monetary: list[Quintile] = []

    @model_validator(mode="after")
    def _something(self) -> RfmCondition:
        if not (self.recency or self.frequency or self.monetary):
            raise ValueError("name at least one of recency, frequency, monetary")
        return self


class ChurnCondition(SpecModel):
    """Churn risk (0..1) at least and/or at most."""

    at_least: float | None = Field(None, ge=0, le=1)
    at_most: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _bounds(self) -> ChurnCondition:
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least, at_most or both")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError("at_least must not exceed at_most")
        return self


class LocationCondition(SpecModel):
    """Where the member usually buys (their most frequent store in the last year): one of
    `stores`, or within `radius_m` of `near_store`."""

    stores: list[Key] = []
    near_store: Key | None = None
    radius_m: int | None = Field(None, ge=10, le=1_000_000)

    @model_validator(mode="after")
    def _complete(self) -> LocationCondition:
        if (self.near_store is None) != (self.radius_m is None):
            raise ValueError("`near_store` and `radius_m` go together")
        if not self.stores and self.near_store is None:
            raise ValueError("give `stores` or `near_store` with `radius_m`")
        return self

    def store_keys(self) -> set[str]:
        return set(self.stores) | ({self.near_store} if self.near_store else set())


class DidCondition(SpecModel):
    """Did `event` at least `at_least` times within the last `within_days` days."""

    event: EventName
    at_least: int = Field(1, ge=1, le=100_000)
    within_days: int = Field(ge=1, le=3650)


class Condition(SpecModel):
    """Exactly one of its fields."""

    all_of: list[Condition] | None = None
    any_of: list[Condition] | None = None
    rfm: RfmCondition | None = None
    tiers: list[Key] | None = None
    lifecycle: list[LifecycleStage] | None = None
    churn_risk: ChurnCondition | None = None
    interests: list[Interest] | None = None  # any of them
    location: LocationCondition | None = None
    consent: ConsentName | None = None  # the member granted this channel
    did: DidCondition | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [name for name, value in self if value is not None]
        if len(given) != 1:
            names = ", ".join(type(self).model_fields)
            raise ValueError(f"a condition is exactly one of: {names}")
        if given[0] in ("all_of", "any_of", "tiers", "lifecycle", "interests") and not getattr(
            self, given[0]
        ):
            raise ValueError(f"`{given[0]}` needs at least one entry")
        return self

    def walk(self) -> Iterator[Condition]:
        """This condition and every condition nested in it."""
        yield self
        for child in (self.all_of or []) + (self.any_of or []):
            yield from child.walk()


class SegmentSpec(SpecModel):
    """One segment: a key (used by offers), a name for people, and its rules."""

    key: Key
    name: DisplayName
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    rules: Condition


def segment_reference_problems(
    segments: list[SegmentSpec], stores: set[str], tiers: set[str]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(location, message) for each segment that names an unknown tier or store; raises
    ValueError for keys used twice (said at the section)."""
    _require_unique([s.key for s in segments], "segment")
    for index, segment in enumerate(segments):
        named_tiers: set[str] = set()
        named_stores: set[str] = set()
        for condition in segment.rules.walk():
            named_tiers |= set(condition.tiers or [])
            if condition.location is not None:
                named_stores |= condition.location.store_keys()
        unknown = sorted(named_tiers - tiers)
        if unknown:
            where = ("segments", index, "rules")
            yield where, f"segment {segment.key} names unknown tier(s): {', '.join(unknown)}"
        unknown = sorted(named_stores - stores)
        if unknown:
            where = ("segments", index, "rules")
            yield where, f"segment {segment.key} names unknown store(s): {', '.join(unknown)}"


def offer_segment_problems(
    offers: list[OfferSpec], segments: list[SegmentSpec]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(location, message) for each offer whose eligibility names an unknown segment."""
    known = {s.key for s in segments}
    for index, offer in enumerate(offers):
        unknown = sorted(set(offer.eligibility.segments) - known)
        if unknown:
            where = ("offers", index, "eligibility", "segments")
            yield where, f"offer {offer.key} names unknown segment(s): {', '.join(unknown)}"
