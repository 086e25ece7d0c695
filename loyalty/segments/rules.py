"""Whether a member fits a segment's rules, and why: each condition that holds says so in a
sentence ("frequency quintile 5 (12 purchases in 365 days)"). Those sentences are the
membership's reasons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from loyalty.programme.offers_spec import StoreSpec
from loyalty.programme.segments_spec import PURCHASE, Condition, RfmCondition
from loyalty.segments.distance import distance_m
from loyalty.segments.facts import MemberProfile

Reasons = list[str]


@dataclass(frozen=True)
class Setting:
    """What the rules need besides the member: the programme's stores and currency."""

    stores: Mapping[str, StoreSpec]
    currency: str


def evaluate(rule: Condition, member: MemberProfile, where: Setting) -> Reasons | None:
    """The reasons the member fits `rule`, or None when they do not. An inactive (blocked or
    closed) member fits no segment."""
    if not member.active:
        return None
    return _check(rule, member, where)


def _check(rule: Condition, member: MemberProfile, where: Setting) -> Reasons | None:
    if rule.all_of is not None:
        reasons: Reasons = []
        for child in rule.all_of:
            found = _check(child, member, where)
            if found is None:
                return None
            reasons += found
        return reasons
    if rule.any_of is not None:
        for child in rule.any_of:
            found = _check(child, member, where)
            if found is not None:
                return found
        return None
    return _leaf(rule, member, where)


def _leaf(rule: Condition, member: MemberProfile, where: Setting) -> Reasons | None:
    rhythm = member.rhythm
    if rule.rfm is not None:
        return _rfm(rule.rfm, member, where.currency)
    if rule.tiers is not None:
        return [f"tier {member.tier}"] if member.tier in rule.tiers else None
    if rule.lifecycle is not None:
        if rhythm.stage not in rule.lifecycle:
            return None
        return [f"lifecycle stage {rhythm.stage} ({rhythm.stage_reason})"]
    if rule.churn_risk is not None:
        low, high = rule.churn_risk.at_least, rule.churn_risk.at_most
        risk = rhythm.churn_risk
        if (low is not None and risk < low) or (high is not None and risk > high):
            return None
        return [f"churn risk {risk:.2f}"]
    if rule.interests is not None:
        shared = sorted(member.interests & {i.lower() for i in rule.interests})
        return [f"interested in {', '.join(shared)}"] if shared else None
    if rule.consent is not None:
        return [f"consented to {rule.consent}"] if rule.consent in member.consents else None
    if rule.location is not None:
        return _location(rule, member, where)
    if rule.did is not None:
        did = rule.did
        times = member.counts.get((did.event, did.within_days), 0)
        if times < did.at_least:
            return None
        what = "purchases" if did.event == PURCHASE else f"{did.event} {_times(times)}"
        shown = f"{times} {what}" if did.event == PURCHASE else what
        return [f"{shown} in the last {did.within_days} days (at least {did.at_least})"]
    return None


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _rfm(rule: RfmCondition, member: MemberProfile, currency: str) -> Reasons | None:
    measures = (
        ("recency", rule.recency, member.recency, _last(member)),
        ("frequency", rule.frequency, member.frequency, f"{member.purchases_in_year} purchases"),
        ("monetary", rule.monetary, member.monetary, f"{currency} {member.spend_in_year:.2f}"),
    )
    reasons: Reasons = []
    for name, wanted, score, figure in measures:
        if not wanted:
            continue
        if score is None or score not in wanted:
            return None
        period = "" if name == "recency" else " in 365 days"
        reasons.append(f"{name} quintile {score} ({figure}{period})")
    return reasons


def _last(member: MemberProfile) -> str:
    days = member.rhythm.days_since_last
    return "no purchase" if days is None else f"last purchase {days:.0f} days ago"


def _location(rule: Condition, member: MemberProfile, where: Setting) -> Reasons | None:
    spec = rule.location
    home = member.home_store
    if spec is None or home is None:
        return None
    if home in spec.stores or home == spec.near_store:
        return [f"usually buys at {home}"]
    near, mine = where.stores.get(spec.near_store or ""), where.stores.get(home)
    if near is None or mine is None or spec.radius_m is None:
        return None
    metres = distance_m(mine.latitude, mine.longitude, near.latitude, near.longitude)
    if metres > spec.radius_m:
        return None
    return [f"usually buys at {home}, {metres / 1000:.1f} km from {near.key}"]
