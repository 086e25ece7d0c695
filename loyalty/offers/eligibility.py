"""The one decision whether a member may have an offer now. Listing and activation both ask
it, so an offer that is listed as available is an offer that activates ("shown means
redeemable").

The checks run in a fixed order and the first that fails is the reason: the offer is live →
its validity window → the member is active → consent for a personalised offer → eligibility
→ the app's context → the member's own activation and uses → the global limit → the points
budget.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from loyalty.offers.catalogue import LIVE, PAUSED
from loyalty.offers.context import AppContext, distance_m
from loyalty.offers.errors import OffersError
from loyalty.offers.facts import MemberFacts
from loyalty.offers.models import Offer
from loyalty.programme.offers_spec import Eligibility, OfferContext, OfferSpec, StoreSpec

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Verdict:
    reason: OffersError | None  # None: the member may have (activate) the offer now

    @property
    def allowed(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Situation:
    """Everything besides the member and the offer: now, the app's context, the programme's
    stores and time zone."""

    now: datetime
    context: AppContext
    stores: Mapping[str, StoreSpec]
    zone: ZoneInfo


# Validated definitions by their stored text: a listing asks for each offer many times. Keyed
# by content, not by id and version, so that two databases (tests, tools) never mix them up.
_SPECS: dict[str, OfferSpec] = {}


def spec_of(offer: Offer) -> OfferSpec:
    key = json.dumps(offer.definition, sort_keys=True)
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) > 4096:
            _SPECS.clear()
        spec = _SPECS[key] = OfferSpec.model_validate(offer.definition)
    return spec


def decide(offer: Offer, facts: MemberFacts, where: Situation) -> Verdict:
    """May this member have (activate) this offer now, in this context?"""
    spec = spec_of(offer)
    reason = (
        _offer_state(offer, where.now)
        or _member(spec, facts, where.now, where.zone)
        or _granted(offer, spec, facts)
        or (None if in_context(spec.context, where) else OffersError.NOT_IN_CONTEXT)
        or _limits(offer, spec, facts)
    )
    return Verdict(reason)


def _offer_state(offer: Offer, now: datetime) -> OffersError | None:
    if offer.state == PAUSED:
        return OffersError.OFFER_PAUSED
    if offer.state != LIVE:
        return OffersError.OFFER_NOT_FOUND
    if offer.valid_from is not None and now < offer.valid_from:
        return OffersError.OFFER_NOT_STARTED
    if offer.valid_until is not None and now >= offer.valid_until:
        return OffersError.OFFER_EXPIRED
    return None


def _granted(offer: Offer, spec: OfferSpec, facts: MemberFacts) -> OffersError | None:
    """A campaign's offer is for the members it was granted to only."""
    if spec.eligibility.granted_only and offer.id not in facts.activations:
        return OffersError.NOT_ELIGIBLE
    return None


def _member(
    spec: OfferSpec, facts: MemberFacts, now: datetime, zone: ZoneInfo
) -> OffersError | None:
    if not facts.active:
        return OffersError.MEMBER_NOT_ACTIVE
    rules = spec.eligibility
    if rules.personalised and not facts.personalisation:
        return OffersError.PERSONALISATION_REQUIRED
    return None if eligible(rules, facts, now, zone) else OffersError.NOT_ELIGIBLE


def eligible(rules: Eligibility, facts: MemberFacts, now: datetime, zone: ZoneInfo) -> bool:
    if rules.tiers and facts.tier not in rules.tiers:
        return False
    if rules.segments and not facts.segments & set(rules.segments):
        return False
    if rules.interests and not facts.interests & {i.lower() for i in rules.interests}:
        return False
    if rules.birthday_month and facts.birth_month != now.astimezone(zone).month:
        return False
    if rules.first_purchase and facts.has_purchased:
        return False
    days = (now.astimezone(zone).date() - facts.joined_at.astimezone(zone).date()).days
    if rules.min_days_since_joining is not None and days < rules.min_days_since_joining:
        return False
    return rules.max_days_since_joining is None or days <= rules.max_days_since_joining


def in_context(rules: OfferContext, where: Situation) -> bool:
    app = where.context
    if rules.stores:
        nearest = nearest_store_m(rules, where)
        if nearest is None or rules.radius_m is None or nearest > rules.radius_m:
            return False
    if not _in_time_window(rules, where.now.astimezone(where.zone)):
        return False
    if rules.weather and app.weather not in rules.weather:
        return False
    if rules.min_temperature is not None and (
        app.temperature is None or app.temperature < rules.min_temperature
    ):
        return False
    return rules.max_temperature is None or (
        app.temperature is not None and app.temperature <= rules.max_temperature
    )


def nearest_store_m(rules: OfferContext, where: Situation) -> float | None:
    """How far the app is from the nearest of the offer's stores (None: not known)."""
    app = where.context
    stores = [where.stores[key] for key in rules.stores if key in where.stores]
    if app.latitude is None or app.longitude is None or not stores:
        return None
    return min(distance_m(app.latitude, app.longitude, s.latitude, s.longitude) for s in stores)


def _in_time_window(rules: OfferContext, local: datetime) -> bool:
    """Weekdays and hours in programme time; a window past midnight belongs to the day it
    started on."""
    start, end = rules.from_time, rules.until_time
    today = WEEKDAYS[local.weekday()]
    if start is None or end is None:
        return not rules.days or today in rules.days
    clock = local.time().replace(tzinfo=None)
    if start < end:
        return start <= clock < end and (not rules.days or today in rules.days)
    if clock >= start:
        return not rules.days or today in rules.days
    if clock < end:
        yesterday = WEEKDAYS[(local - timedelta(days=1)).weekday()]
        return not rules.days or yesterday in rules.days
    return False


def _limits(offer: Offer, spec: OfferSpec, facts: MemberFacts) -> OffersError | None:
    mine = facts.activations.get(offer.id)
    if mine is not None:
        return OffersError.ALREADY_ACTIVATED
    if offer.global_limit is not None and offer.activated_count >= offer.global_limit:
        return OffersError.OFFER_LIMIT_REACHED
    if offer.points_budget is not None and (
        offer.points_budget_spent + (spec.points or 0) > offer.points_budget
        or offer.points_budget_spent >= offer.points_budget
    ):
        return OffersError.BUDGET_SPENT
    return None
