"""Rules against a member's profile, without a database: each condition, how they combine,
and the reasons they give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty.programme.offers_spec import StoreSpec
from loyalty.programme.segments_spec import Condition
from loyalty.segments.facts import MemberProfile
from loyalty.segments.rhythm import Purchase, rhythm_of
from loyalty.segments.rules import Setting, evaluate

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
WHERE = Setting(
    {
        "dam": StoreSpec(key="dam", name="Dam", latitude=52.3731, longitude=4.8922),
        "utrecht": StoreSpec(key="utrecht", name="Utrecht", latitude=52.0907, longitude=5.1214),
    },
    "EUR",
)


def _member(**changes: object) -> MemberProfile:
    bought = [Purchase(NOW - timedelta(days=7 * i + 2), Decimal(20)) for i in range(8)]
    values: dict[str, object] = {
        "member_id": 1,
        "active": True,
        "interests": frozenset({"koffie"}),
        "consents": frozenset({"email"}),
        "tier": "zilver",
        "rhythm": rhythm_of(bought, NOW - timedelta(days=300), NOW),
        "purchases_in_year": 8,
        "spend_in_year": Decimal("160.00"),
        "home_store": "dam",
        "recency": 5,
        "frequency": 4,
        "monetary": 2,
        "counts": {("purchase", 30): 4},
    }
    values.update(changes)
    return MemberProfile(**values)  # type: ignore[arg-type]


def _rule(data: dict[str, object]) -> Condition:
    return Condition.model_validate(data)


@pytest.mark.parametrize(
    ("rule", "reasons"),
    [
        ({"tiers": ["zilver", "goud"]}, ["tier zilver"]),
        ({"tiers": ["goud"]}, None),
        (
            {"rfm": {"recency": [5], "monetary": [1, 2]}},
            [
                "recency quintile 5 (last purchase 2 days ago)",
                "monetary quintile 2 (EUR 160.00 in 365 days)",
            ],
        ),
        ({"rfm": {"frequency": [5]}}, None),
        ({"churn_risk": {"at_most": 0.2}}, ["churn risk 0.00"]),
        ({"churn_risk": {"at_least": 0.5}}, None),
        ({"interests": ["Thee", "KOFFIE"]}, ["interested in koffie"]),
        ({"consent": "push"}, None),
        ({"location": {"stores": ["dam"]}}, ["usually buys at dam"]),
        ({"location": {"near_store": "utrecht", "radius_m": 10000}}, None),
        (
            {"location": {"near_store": "utrecht", "radius_m": 50000}},
            ["usually buys at dam, 35.1 km from utrecht"],
        ),
        (
            {"did": {"event": "purchase", "at_least": 3, "within_days": 30}},
            ["4 purchases in the last 30 days (at least 3)"],
        ),
        (
            {"all_of": [{"tiers": ["zilver"]}, {"lifecycle": ["active"]}]},
            [
                "tier zilver",
                "lifecycle stage active (2 days since the last purchase, usually every 7 (0.3x))",
            ],
        ),
        ({"all_of": [{"tiers": ["zilver"]}, {"consent": "push"}]}, None),
        ({"any_of": [{"consent": "push"}, {"interests": ["koffie"]}]}, ["interested in koffie"]),
    ],
)
def test_conditions_and_their_reasons(rule: dict[str, object], reasons: list[str] | None) -> None:
    assert evaluate(_rule(rule), _member(), WHERE) == reasons


def test_blocked_members_fit_no_segment_and_never_buyers_have_no_rfm() -> None:
    assert evaluate(_rule({"tiers": ["zilver"]}), _member(active=False), WHERE) is None
    never = _member(recency=None, frequency=None, monetary=None, home_store=None)
    assert evaluate(_rule({"rfm": {"recency": [1, 2, 3, 4, 5]}}), never, WHERE) is None
    assert evaluate(_rule({"location": {"stores": ["dam"]}}), never, WHERE) is None
