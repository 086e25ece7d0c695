"""A member's own rhythm: lifecycle stage and churn risk, explained in named parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loyalty.segments.rhythm import Purchase, rhythm_of

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _every(interval: float, count: int, last_ago: float, amount: str = "20") -> list[Purchase]:
    last = NOW - timedelta(days=last_ago)
    return [Purchase(last - timedelta(days=interval * i), Decimal(amount)) for i in range(count)][
        ::-1
    ]


def test_a_slow_but_regular_buyer_is_active_and_low_risk() -> None:
    rhythm = rhythm_of(_every(60, 6, last_ago=40), NOW - timedelta(days=400), NOW)
    assert rhythm.stage == "active"
    assert round(rhythm.usual_interval_days) == 60
    assert rhythm.churn_risk < 0.1


def test_a_weekly_buyer_silent_for_a_month_is_lapsed_and_high_risk() -> None:
    rhythm = rhythm_of(_every(7, 10, last_ago=30), NOW - timedelta(days=400), NOW)
    assert rhythm.stage == "lapsed"
    assert rhythm.churn_risk > 0.7
    # Days since the last purchase alone would rank them below the slow buyer above (40 days).


def test_stages_follow_the_members_own_interval() -> None:
    joined = NOW - timedelta(days=400)
    assert rhythm_of(_every(10, 5, last_ago=12), joined, NOW).stage == "active"
    assert rhythm_of(_every(10, 5, last_ago=16), joined, NOW).stage == "at_risk"
    assert rhythm_of(_every(10, 5, last_ago=31), joined, NOW).stage == "lapsed"
    assert rhythm_of(_every(10, 1, last_ago=5), NOW - timedelta(days=5), NOW).stage == "new"


def test_a_member_who_never_bought_is_new_then_lapsed() -> None:
    assert rhythm_of([], NOW - timedelta(days=3), NOW).stage == "new"
    assert rhythm_of([], NOW - timedelta(days=90), NOW).stage == "lapsed"


def test_the_parts_name_the_trends_and_add_up_to_the_score() -> None:
    gaps = [7, 8, 10, 14, 20, 28]
    at = NOW - timedelta(days=45)
    bought = [Purchase(at, Decimal(5))]
    amounts = ["40", "38", "35", "30", "20", "12"]
    for gap, amount in zip(reversed(gaps), reversed(amounts), strict=True):
        at -= timedelta(days=gap)
        bought.insert(0, Purchase(at, Decimal(amount)))
    rhythm = rhythm_of(bought, NOW - timedelta(days=500), NOW)
    parts = dict(rhythm.churn_parts)
    assert set(parts) == {"overdue", "slowing_down", "spending_less"}
    assert parts["slowing_down"] > 0 and parts["spending_less"] > 0
    assert abs(sum(parts.values()) - rhythm.churn_risk) < 0.001
    assert 0 <= rhythm.churn_risk <= 1


def test_too_few_purchases_for_a_trend_leave_overdue_alone() -> None:
    rhythm = rhythm_of(_every(10, 2, last_ago=25), NOW - timedelta(days=100), NOW)
    assert [name for name, _ in rhythm.churn_parts] == ["overdue"]
    assert rhythm.churn_risk == rhythm.churn_parts[0][1] > 0.5
