from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.points.earning import (
    Award,
    BasketLine,
    CapKey,
    EarnContext,
    cap_keys,
    eligible_total,
    event_awards,
    period_start,
    purchase_awards,
)
from loyalty.programme.spec import EarningSpec

AMS = ZoneInfo("Europe/Amsterdam")
HAVANA = ZoneInfo("America/Havana")  # DST changes at local midnight
WEDNESDAY_NOON = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Amsterdam
GIFT_CARDS_AND_DELIVERY = {"exclude_categories": ["gift-card"], "exclude_skus": ["delivery"]}


def earning(**data: Any) -> EarningSpec:
    return EarningSpec.model_validate(data)


def line(
    price: str, *, sku: str = "latte", category: str | None = "coffee", qty: str = "1"
) -> BasketLine:
    return BasketLine(sku=sku, category=category, quantity=Decimal(qty), unit_price=Decimal(price))


def context(
    at: datetime = WEDNESDAY_NOON, tier: str | None = None, multiplier: str = "1"
) -> EarnContext:
    return EarnContext(at=at, zone=AMS, tier=tier, tier_multiplier=Decimal(multiplier))


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """An Amsterdam wall-clock time, as the UTC instant the caller would pass."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


def earned(
    spec: EarningSpec,
    lines: Sequence[BasketLine],
    ctx: EarnContext | None = None,
    used: Mapping[CapKey, int] | None = None,
) -> dict[str, int]:
    awards = purchase_awards(spec, lines, ctx or context(), used or {})
    return {award.rule: award.points for award in awards}


# --- base rate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "rounding", "points"),
    [
        ("12.99", "down", 12),
        ("12.99", "nearest", 13),
        ("12.99", "up", 13),
        ("12.49", "nearest", 12),
        ("12.50", "nearest", 13),
        ("12.00", "up", 12),
    ],
)
def test_base_rate_rounding(price: str, rounding: str, points: int) -> None:
    spec = earning(base={"rounding": rounding})
    assert earned(spec, [line(price)]) == {"base": points}


def test_base_award_has_a_description() -> None:
    [award] = purchase_awards(earning(), [line("5")], context(), {})
    assert award == Award("base", 5, "Points for purchase")


def test_fractional_quantity_and_rate() -> None:
    spec = earning(base={"points_per_unit": "10", "rounding": "up"})
    # 0.5 kg at 7.99 = 3.995 -> 39.95 points
    assert earned(spec, [line("7.99", qty="0.5")]) == {"base": 40}
    assert eligible_total(spec, [line("7.99", qty="0.5")]) == Decimal("3.995")


def test_base_rounds_the_sum_not_each_line() -> None:
    assert earned(earning(), [line("0.60"), line("0.60", sku="espresso")]) == {"base": 1}


def test_excluded_categories_and_skus_earn_nothing() -> None:
    spec = earning(base=GIFT_CARDS_AND_DELIVERY)
    lines = [
        line("10"),
        line("25", sku="gc-25", category="gift-card"),
        line("4.95", sku="delivery", category=None),
        line("3", sku="Delivery", category="Gift-Card"),  # matching is case-sensitive
    ]
    assert eligible_total(spec, lines) == Decimal(13)
    assert earned(spec, lines) == {"base": 13}


def test_basket_with_only_excluded_lines_earns_nothing() -> None:
    spec = earning(
        base=GIFT_CARDS_AND_DELIVERY,
        rules=[{"key": "visit", "kind": "bonus", "points": 10}],
    )
    assert earned(spec, [line("25", sku="gc-25", category="gift-card")]) == {}


def test_min_order_blocks_everything() -> None:
    spec = earning(
        base={"min_order": "5.00", **GIFT_CARDS_AND_DELIVERY},
        rules=[{"key": "visit", "kind": "bonus", "points": 10}],
    )
    # delivery does not count towards the minimum
    below = [line("4.99"), line("3", sku="delivery")]
    assert earned(spec, below, context(tier="gold", multiplier="2")) == {}
    assert earned(spec, [line("5.00")]) == {"base": 5, "visit": 10}


def test_zero_rate_earns_no_base_but_rules_still_apply() -> None:
    spec = earning(
        base={"points_per_unit": "0"}, rules=[{"key": "visit", "kind": "bonus", "points": 10}]
    )
    assert earned(spec, [line("5")]) == {"visit": 10}


# --- rules --------------------------------------------------------------------------------


def test_multiplier_on_a_category() -> None:
    spec = earning(
        rules=[
            {
                "key": "double-pastry",
                "kind": "multiplier",
                "multiplier": "2",
                "categories": ["pastry"],
                "description": "Double points on pastry",
            }
        ]
    )
    lines = [line("3.00"), line("4.50", sku="croissant", category="pastry")]
    awards = purchase_awards(spec, lines, context(), {})
    assert awards == [
        Award("base", 7, "Points for purchase"),
        Award("double-pastry", 4, "Double points on pastry"),
    ]
    assert earned(spec, [line("3.00")]) == {"base": 3}


def test_multiplier_by_sku_or_category_and_default_description() -> None:
    spec = earning(
        base={"rounding": "nearest"},
        rules=[
            {
                "key": "beans",
                "kind": "multiplier",
                "multiplier": "1.5",
                "categories": ["pastry"],
                "skus": ["beans-1kg"],
            }
        ],
    )
    lines = [
        line("2.00"),
        line("3.00", category="pastry", sku="muffin"),
        line("12.00", category="retail", sku="beans-1kg"),
    ]
    awards = purchase_awards(spec, lines, context(), {})
    assert awards[1] == Award("beans", 8, "1.5x points on pastry, beans-1kg")  # 0.5 * 15 = 7.5


def test_multiplier_without_targets_covers_all_eligible_lines() -> None:
    spec = earning(
        base={"exclude_categories": ["gift-card"]},
        rules=[{"key": "triple", "kind": "multiplier", "multiplier": "3"}],
    )
    lines = [line("2.40"), line("2.40", sku="tea"), line("50", sku="gc", category="gift-card")]
    assert earned(spec, lines) == {"base": 4, "triple": 9}  # 2 * 4.8 = 9.6, floor


def test_multiplier_of_one_or_less_awards_nothing() -> None:
    spec = earning(
        rules=[
            {"key": "same", "kind": "multiplier", "multiplier": "1"},
            {"key": "half", "kind": "multiplier", "multiplier": "0.5"},
        ]
    )
    assert earned(spec, [line("10")]) == {"base": 10}


def test_bonus_with_min_order_uses_the_eligible_total() -> None:
    spec = earning(
        base=GIFT_CARDS_AND_DELIVERY,
        rules=[{"key": "big-basket", "kind": "bonus", "points": 50, "min_order": "25.00"}],
    )
    assert earned(spec, [line("24.99"), line("5", sku="delivery")]) == {"base": 24}
    assert earned(spec, [line("25.00")]) == {"base": 25, "big-basket": 50}


def test_bonus_needs_a_matching_line_when_it_lists_categories() -> None:
    spec = earning(
        rules=[{"key": "pastry-bonus", "kind": "bonus", "points": 5, "categories": ["pastry"]}]
    )
    assert earned(spec, [line("3")]) == {"base": 3}
    assert earned(spec, [line("3", category="pastry")]) == {"base": 3, "pastry-bonus": 5}


def test_rules_run_by_priority_with_file_order_on_ties() -> None:
    spec = earning(
        rules=[
            {"key": "aa", "kind": "bonus", "points": 1},
            {"key": "bb", "kind": "bonus", "points": 2, "priority": 5},
            {"key": "cc", "kind": "bonus", "points": 3},
            {"key": "dd", "kind": "bonus", "points": 4, "priority": 5},
        ]
    )
    awards = purchase_awards(spec, [line("1")], context(), {})
    assert [a.rule for a in awards] == ["base", "bb", "dd", "aa", "cc"]


def test_stop_skips_lower_priority_rules() -> None:
    spec = earning(
        rules=[
            {"key": "low", "kind": "bonus", "points": 1},
            {"key": "mid", "kind": "bonus", "points": 2, "priority": 5, "stop": True},
            {"key": "high", "kind": "bonus", "points": 3, "priority": 10},
            {"key": "same", "kind": "bonus", "points": 4, "priority": 5},
        ]
    )
    assert earned(spec, [line("1")]) == {"base": 1, "high": 3, "mid": 2}


def test_stop_only_counts_when_the_rule_matched() -> None:
    spec = earning(
        rules=[
            {"key": "low", "kind": "bonus", "points": 1},
            {
                "key": "pastry",
                "kind": "bonus",
                "points": 5,
                "priority": 5,
                "stop": True,
                "categories": ["pastry"],
            },
        ]
    )
    assert earned(spec, [line("1")]) == {"base": 1, "low": 1}
    assert earned(spec, [line("1", category="pastry")]) == {"base": 1, "pastry": 5}


def test_tier_multiplier_applies_to_the_base_only() -> None:
    spec = earning(rules=[{"key": "double", "kind": "multiplier", "multiplier": "2"}])
    ctx = context(tier="gold", multiplier="1.5")
    awards = purchase_awards(spec, [line("10.99")], ctx, {})
    assert awards[-1] == Award("tier", 5, "1.5x tier points (gold)")  # 0.5 * 10.99 = 5.495
    assert earned(spec, [line("10.99")], ctx) == {"base": 10, "double": 10, "tier": 5}
    assert earned(spec, [line("10.99")], context(tier="silver", multiplier="1")) == {
        "base": 10,
        "double": 10,
    }


def test_tier_only_rules() -> None:
    spec = earning(rules=[{"key": "gold-bonus", "kind": "bonus", "points": 25, "tiers": ["gold"]}])
    assert earned(spec, [line("1")], context(tier=None)) == {"base": 1}
    assert earned(spec, [line("1")], context(tier="silver")) == {"base": 1}
    assert earned(spec, [line("1")], context(tier="gold")) == {"base": 1, "gold-bonus": 25}


# --- schedules ----------------------------------------------------------------------------

WEEKEND = earning(
    rules=[
        {
            "key": "weekend",
            "kind": "multiplier",
            "multiplier": "2",
            "schedule": {"days": ["sat", "sun"]},
        }
    ]
)


def test_weekend_schedule_uses_programme_time() -> None:
    # Friday 23:30 UTC is Saturday 00:30 in Amsterdam (CET, +01:00)
    saturday = datetime(2026, 3, 27, 23, 30, tzinfo=UTC)
    assert earned(WEEKEND, [line("10")], context(saturday)) == {"base": 10, "weekend": 10}
    friday = datetime(2026, 3, 27, 22, 30, tzinfo=UTC)  # 23:30 local
    assert earned(WEEKEND, [line("10")], context(friday)) == {"base": 10}
    # Sunday 23:30 local in summer time is still Sunday 21:30 UTC; Monday 00:30 is not.
    assert "weekend" in earned(WEEKEND, [line("10")], context(local(2026, 3, 29, 23, 30)))
    assert "weekend" not in earned(WEEKEND, [line("10")], context(local(2026, 3, 30, 0, 30)))


def test_context_time_in_another_offset_is_converted() -> None:
    saturday = datetime(2026, 3, 27, 19, 30, tzinfo=ZoneInfo("America/New_York"))
    assert "weekend" in earned(WEEKEND, [line("10")], context(saturday))


def _night_owl(from_time: str, until_time: str) -> EarningSpec:
    schedule = {"from_time": from_time, "until_time": until_time}
    return earning(rules=[{"key": "owl", "kind": "bonus", "points": 7, "schedule": schedule}])


@pytest.mark.parametrize(
    ("hour", "minute", "matches"),
    [(21, 59, False), (22, 0, True), (23, 59, True), (0, 0, True), (1, 59, True), (2, 0, False)],
)
def test_time_window_wrapping_midnight(hour: int, minute: int, matches: bool) -> None:
    at = local(2026, 6, 10, hour, minute)
    assert ("owl" in earned(_night_owl("22:00", "02:00"), [line("1")], context(at))) is matches


@pytest.mark.parametrize(
    ("hour", "minute", "matches"), [(6, 59, False), (7, 0, True), (10, 59, True), (11, 0, False)]
)
def test_time_window_from_inclusive_until_exclusive(hour: int, minute: int, matches: bool) -> None:
    at = local(2026, 6, 10, hour, minute)
    assert ("owl" in earned(_night_owl("07:00", "11:00"), [line("1")], context(at))) is matches


def test_open_ended_time_windows() -> None:
    after = earning(
        rules=[{"key": "late", "kind": "bonus", "points": 1, "schedule": {"from_time": "20:00"}}]
    )
    before = earning(
        rules=[{"key": "early", "kind": "bonus", "points": 1, "schedule": {"until_time": "09:00"}}]
    )
    assert "late" in earned(after, [line("1")], context(local(2026, 6, 10, 23, 0)))
    assert "late" not in earned(after, [line("1")], context(local(2026, 6, 10, 19, 59)))
    assert "early" in earned(before, [line("1")], context(local(2026, 6, 10, 8, 59)))
    assert "early" not in earned(before, [line("1")], context(local(2026, 6, 10, 9, 0)))


def test_equal_from_and_until_is_an_empty_window() -> None:
    at = local(2026, 6, 10, 9, 0)
    assert earned(_night_owl("09:00", "09:00"), [line("1")], context(at)) == {"base": 1}


def test_days_and_wrapping_window_are_checked_separately() -> None:
    spec = earning(
        rules=[
            {
                "key": "friday-night",
                "kind": "bonus",
                "points": 5,
                "schedule": {"days": ["fri"], "from_time": "22:00", "until_time": "02:00"},
            }
        ]
    )
    assert "friday-night" in earned(spec, [line("1")], context(local(2026, 6, 12, 23, 0)))
    assert "friday-night" not in earned(spec, [line("1")], context(local(2026, 6, 13, 1, 0)))


def test_start_and_end_dates_are_inclusive_in_programme_time() -> None:
    spec = earning(
        rules=[
            {
                "key": "june",
                "kind": "bonus",
                "points": 5,
                "schedule": {"starts": "2026-06-01", "ends": "2026-06-30"},
            }
        ]
    )

    def matches(at: datetime) -> bool:
        return "june" in earned(spec, [line("1")], context(at))

    assert matches(local(2026, 6, 1, 0, 0))  # 2026-05-31 22:00 UTC
    assert not matches(local(2026, 5, 31, 23, 59))
    assert matches(local(2026, 6, 30, 23, 59))
    assert not matches(local(2026, 7, 1, 0, 10))  # still 2026-06-30 in UTC


# --- caps ---------------------------------------------------------------------------------

CAPPED = earning(
    rules=[
        {
            "key": "weekly-bonus",
            "kind": "bonus",
            "points": 50,
            "priority": 10,
            "stop": True,
            "cap": {"per": "week", "points": 100},
        },
        {"key": "lower", "kind": "bonus", "points": 1},
    ]
)


def test_rule_cap_counts_what_was_already_used() -> None:
    assert earned(CAPPED, [line("1")]) == {"base": 1, "weekly-bonus": 50}
    assert earned(CAPPED, [line("1")], used={("weekly-bonus", "week"): 80}) == {
        "base": 1,
        "weekly-bonus": 20,
    }
    # an exhausted rule still matched, so its stop still holds back the lower rule
    assert earned(CAPPED, [line("1")], used={("weekly-bonus", "week"): 120}) == {"base": 1}
    # other periods or rules do not count
    assert earned(CAPPED, [line("1")], used={("weekly-bonus", "day"): 100}) == {
        "base": 1,
        "weekly-bonus": 50,
    }


def test_multiplier_cap() -> None:
    spec = earning(
        rules=[
            {
                "key": "double",
                "kind": "multiplier",
                "multiplier": "2",
                "cap": {"per": "day", "points": 30},
            }
        ]
    )
    assert earned(spec, [line("50")]) == {"base": 50, "double": 30}
    assert earned(spec, [line("50")], used={("double", "day"): 25}) == {"base": 50, "double": 5}


def test_programme_caps_cut_the_last_awards_first() -> None:
    spec = earning(
        rules=[
            {"key": "first", "kind": "bonus", "points": 10, "priority": 1},
            {"key": "second", "kind": "bonus", "points": 10},
        ],
        caps=[{"per": "day", "points": 100}, {"per": "month", "points": 1000}],
    )
    ctx = context(tier="gold", multiplier="2")
    assert earned(spec, [line("20")], ctx) == {"base": 20, "first": 10, "second": 10, "tier": 20}
    # 40 points of room today: the tier award goes
    assert earned(spec, [line("20")], ctx, {("purchases", "day"): 60}) == {
        "base": 20,
        "first": 10,
        "second": 10,
    }
    # 35: then half of the last rule
    assert earned(spec, [line("20")], ctx, {("purchases", "day"): 65}) == {
        "base": 20,
        "first": 10,
        "second": 5,
    }
    # 20: every rule goes, the base stays
    assert earned(spec, [line("20")], ctx, {("purchases", "day"): 80}) == {"base": 20}
    # the tightest cap wins
    used = {("purchases", "day"): 10, ("purchases", "month"): 985}
    assert earned(spec, [line("20")], ctx, used) == {"base": 15}
    assert earned(spec, [line("20")], ctx, {("purchases", "month"): 2000}) == {}


def test_programme_cap_shortened_award_keeps_its_description() -> None:
    spec = earning(caps=[{"per": "year", "points": 100}])
    awards = purchase_awards(spec, [line("30")], context(), {("purchases", "year"): 90})
    assert awards == [Award("base", 10, "Points for purchase")]


def test_cap_keys_for_purchases() -> None:
    spec = earning(
        rules=[
            {"key": "aa", "kind": "bonus", "points": 1, "cap": {"per": "day", "points": 5}},
            {"key": "bb", "kind": "multiplier", "multiplier": "2"},
            {
                "key": "sign-up",
                "kind": "event",
                "event": "sign_up",
                "points": 1,
                "cap": {"per": "year", "points": 5},
            },
        ],
        caps=[{"per": "day", "points": 100}, {"per": "month", "points": 500}],
    )
    assert cap_keys(spec) == [("aa", "day"), ("purchases", "day"), ("purchases", "month")]
    assert cap_keys(spec, "sign_up") == [("sign-up", "year")]
    assert cap_keys(spec, "birthday") == []


# --- events -------------------------------------------------------------------------------

EVENTS = earning(
    rules=[
        {"key": "welcome", "kind": "event", "event": "sign_up", "points": 100, "max_times": 1},
        {
            "key": "birthday",
            "kind": "event",
            "event": "birthday",
            "points": 50,
            "max_times": 1,
            "max_times_per": "year",
        },
        {
            "key": "gold-birthday",
            "kind": "event",
            "event": "birthday",
            "points": 200,
            "priority": 10,
            "stop": True,
            "tiers": ["gold"],
            "max_times": 1,
            "max_times_per": "year",
            "description": "Happy birthday, gold member",
        },
        {
            "key": "check-in",
            "kind": "event",
            "event": "check_in",
            "points": 10,
            "cap": {"per": "week", "points": 25},
            "schedule": {"days": ["mon", "tue", "wed", "thu", "fri"]},
        },
        {"key": "visit", "kind": "bonus", "points": 5},
    ]
)


def events(
    event: str,
    ctx: EarnContext | None = None,
    points: Mapping[CapKey, int] | None = None,
    times: Mapping[CapKey, int] | None = None,
) -> dict[str, int]:
    awards = event_awards(EVENTS, event, ctx or context(), points or {}, times or {})
    return {award.rule: award.points for award in awards}


def test_event_with_max_times_ever() -> None:
    assert event_awards(EVENTS, "sign_up", context(), {}, {}) == [
        Award("welcome", 100, "Points for sign_up")
    ]
    assert events("sign_up", times={("welcome", "ever"): 1}) == {}
    assert events("sign_up", times={("welcome", "year"): 1}) == {"welcome": 100}


def test_event_with_max_times_per_year() -> None:
    assert events("birthday") == {"birthday": 50}
    assert events("birthday", times={("birthday", "year"): 1}) == {}


def test_event_tier_rule_and_stop() -> None:
    gold = context(tier="gold", multiplier="2")  # the tier multiplier is ignored for events
    assert event_awards(EVENTS, "birthday", gold, {}, {}) == [
        Award("gold-birthday", 200, "Happy birthday, gold member")
    ]
    # a used-up gold rule still matched: the generic birthday rule must not pay out instead
    assert events("birthday", gold, times={("gold-birthday", "year"): 1}) == {}


def test_event_cap_and_schedule() -> None:
    assert events("check_in") == {"check-in": 10}
    assert events("check_in", points={("check-in", "week"): 20}) == {"check-in": 5}
    assert events("check_in", points={("check-in", "week"): 25}) == {}
    saturday = context(local(2026, 6, 13, 12, 0))
    assert events("check_in", saturday) == {}


def test_events_and_purchases_do_not_mix() -> None:
    assert events("visit") == {}
    assert events("unknown") == {}
    assert earned(EVENTS, [line("3")]) == {"base": 3, "visit": 5}


def test_cap_keys_for_events() -> None:
    assert cap_keys(EVENTS, "birthday") == [("birthday", "year"), ("gold-birthday", "year")]
    assert cap_keys(EVENTS, "check_in") == [("check-in", "week")]
    assert cap_keys(EVENTS) == []


# --- periods ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "period", "start"),
    [
        # spring forward: Sunday 2026-03-29 02:00 CET -> 03:00 CEST
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "day", datetime(2026, 3, 28, 23, 0)),
        (datetime(2026, 3, 29, 22, 30, tzinfo=UTC), "day", datetime(2026, 3, 29, 22, 0)),
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "week", datetime(2026, 3, 22, 23, 0)),
        (datetime(2026, 3, 30, 12, 0, tzinfo=UTC), "week", datetime(2026, 3, 29, 22, 0)),
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "month", datetime(2026, 2, 28, 23, 0)),
        (datetime(2026, 4, 1, 12, 0, tzinfo=UTC), "month", datetime(2026, 3, 31, 22, 0)),
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "year", datetime(2025, 12, 31, 23, 0)),
        # fall back: Sunday 2026-10-25 03:00 CEST -> 02:00 CET
        (datetime(2026, 10, 25, 12, 0, tzinfo=UTC), "day", datetime(2026, 10, 24, 22, 0)),
        (datetime(2026, 10, 25, 23, 30, tzinfo=UTC), "day", datetime(2026, 10, 25, 23, 0)),
        (datetime(2026, 10, 25, 12, 0, tzinfo=UTC), "week", datetime(2026, 10, 18, 22, 0)),
        (datetime(2026, 10, 26, 12, 0, tzinfo=UTC), "week", datetime(2026, 10, 25, 23, 0)),
        (datetime(2026, 10, 25, 12, 0, tzinfo=UTC), "month", datetime(2026, 9, 30, 22, 0)),
        (datetime(2026, 11, 1, 12, 0, tzinfo=UTC), "month", datetime(2026, 10, 31, 23, 0)),
        (datetime(2026, 10, 25, 12, 0, tzinfo=UTC), "year", datetime(2025, 12, 31, 23, 0)),
        # New Year's Eve 23:30 UTC is already next year in Amsterdam
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "year", datetime(2026, 12, 31, 23, 0)),
    ],
)
def test_period_start_across_dst(at: datetime, period: str, start: datetime) -> None:
    assert period_start(period, at, AMS) == start.replace(tzinfo=UTC)


def test_period_start_ever_and_errors() -> None:
    assert period_start("ever", WEDNESDAY_NOON, AMS) is None
    with pytest.raises(ValueError, match="unknown period"):
        period_start("fortnight", WEDNESDAY_NOON, AMS)
    with pytest.raises(ValueError, match="timezone-aware"):
        period_start("day", datetime(2026, 6, 10, 12, 0), AMS)


def test_period_start_when_local_midnight_is_skipped_or_repeated() -> None:
    # Havana springs forward 00:00 -> 01:00 on 2024-03-10: the day starts at 01:00 (-04:00)
    start = period_start("day", datetime(2024, 3, 10, 12, 0, tzinfo=UTC), HAVANA)
    assert start == datetime(2024, 3, 10, 5, 0, tzinfo=UTC)
    # and falls back 01:00 -> 00:00 on 2024-11-03: the day starts at the first 00:00 (-04:00)
    start = period_start("day", datetime(2024, 11, 3, 12, 0, tzinfo=UTC), HAVANA)
    assert start == datetime(2024, 11, 3, 4, 0, tzinfo=UTC)


def test_validation() -> None:
    with pytest.raises(ValueError, match="quantity"):
        line("1", qty="0")
    with pytest.raises(ValueError, match="negative"):
        line("-1")
    with pytest.raises(ValueError, match="positive"):
        Award("base", 0, "nothing")
    with pytest.raises(ValueError, match="timezone-aware"):
        EarnContext(at=datetime(2026, 1, 1), zone=AMS, tier=None, tier_multiplier=Decimal(1))


# --- properties ---------------------------------------------------------------------------

SKUS = ["latte", "croissant", "beans-1kg", "delivery", "gc-25"]
CATEGORIES = ["coffee", "pastry", "retail", "gift-card", None]
money = st.decimals(min_value=0, max_value=500, places=2)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=20, places=3)
basket_lines = st.builds(
    BasketLine,
    sku=st.sampled_from(SKUS),
    category=st.sampled_from(CATEGORIES),
    quantity=quantities,
    unit_price=money,
)
eligible_basket_lines = st.builds(
    BasketLine,
    sku=st.sampled_from(["latte", "croissant", "beans-1kg"]),
    category=st.sampled_from(["coffee", "pastry", "retail", None]),
    quantity=quantities,
    unit_price=money,
)
excluded_lines = st.one_of(
    st.builds(BasketLine, st.just("delivery"), st.sampled_from(CATEGORIES), quantities, money),
    st.builds(BasketLine, st.sampled_from(SKUS), st.just("gift-card"), quantities, money),
)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
contexts = st.builds(
    EarnContext,
    at=moments,
    zone=st.just(AMS),
    tier=st.sampled_from([None, "silver", "gold"]),
    tier_multiplier=st.decimals(min_value=1, max_value=3, places=2),
)


@st.composite
def specs(draw: st.DrawFn) -> EarningSpec:
    rules: list[dict[str, Any]] = [
        {
            "key": "pastry",
            "kind": "multiplier",
            "multiplier": str(draw(st.decimals(min_value="0.5", max_value=4, places=1))),
            "categories": ["pastry"],
            "skus": ["beans-1kg"],
            "priority": draw(st.integers(0, 3)),
            "stop": draw(st.booleans()),
            "cap": {"per": "week", "points": draw(st.integers(1, 300))},
        },
        {
            "key": "weekend",
            "kind": "multiplier",
            "multiplier": "2",
            "schedule": {"days": ["sat", "sun"]},
            "priority": draw(st.integers(0, 3)),
        },
        {
            "key": "big-basket",
            "kind": "bonus",
            "points": draw(st.integers(1, 200)),
            "min_order": str(draw(money)),
            "priority": draw(st.integers(0, 3)),
            "cap": {"per": "day", "points": draw(st.integers(1, 300))},
        },
        {"key": "gold", "kind": "bonus", "points": 40, "tiers": ["gold"], "stop": True},
    ]
    caps = [
        {"per": per, "points": draw(st.integers(1, 2000))}
        for per in draw(st.lists(st.sampled_from(["day", "week", "month", "year"]), unique=True))
    ]
    return earning(
        base={
            "points_per_unit": str(draw(st.decimals(min_value=0, max_value=10, places=2))),
            "rounding": draw(st.sampled_from(["down", "nearest", "up"])),
            "min_order": str(draw(st.decimals(min_value=0, max_value=20, places=2))),
            **GIFT_CARDS_AND_DELIVERY,
        },
        rules=rules,
        caps=caps,
    )


def used_for(spec: EarningSpec) -> st.SearchStrategy[dict[CapKey, int]]:
    return st.fixed_dictionaries({}, optional={key: st.integers(0, 2500) for key in cap_keys(spec)})


@st.composite
def purchases(
    draw: st.DrawFn,
) -> tuple[EarningSpec, list[BasketLine], EarnContext, dict[CapKey, int]]:
    spec = draw(specs())
    return spec, draw(st.lists(basket_lines, max_size=6)), draw(contexts), draw(used_for(spec))


@settings(max_examples=200)
@given(purchases())
def test_awards_are_positive_and_within_every_cap(
    case: tuple[EarningSpec, list[BasketLine], EarnContext, dict[CapKey, int]],
) -> None:
    spec, lines, ctx, used = case
    awards = purchase_awards(spec, lines, ctx, used)
    assert all(award.points > 0 for award in awards)
    total = sum(award.points for award in awards)
    for cap in spec.caps:
        assert total <= max(0, cap.points - used.get(("purchases", cap.per), 0))
    for award in awards:
        rule = next((r for r in spec.rules if r.key == award.rule), None)
        if rule is not None and rule.cap is not None:
            assert award.points <= rule.cap.points - used.get((rule.key, rule.cap.per), 0)


@given(purchases(), excluded_lines, st.integers(0, 6))
def test_excluded_lines_never_change_the_result(
    case: tuple[EarningSpec, list[BasketLine], EarnContext, dict[CapKey, int]],
    extra: BasketLine,
    position: int,
) -> None:
    spec, lines, ctx, used = case
    with_extra = [*lines[:position], extra, *lines[position:]]
    assert purchase_awards(spec, with_extra, ctx, used) == purchase_awards(spec, lines, ctx, used)


def _base_points(spec: EarningSpec, lines: list[BasketLine]) -> int:
    awards = purchase_awards(spec, lines, context(), {})
    return sum(award.points for award in awards if award.rule == "base")


@given(specs(), st.lists(basket_lines, max_size=6), eligible_basket_lines, money)
def test_more_money_never_earns_fewer_base_points(
    spec: EarningSpec, lines: list[BasketLine], extra: BasketLine, raise_by: Decimal
) -> None:
    before = _base_points(spec, lines)
    assert _base_points(spec, [*lines, extra]) >= before
    if lines:
        first = lines[0]
        dearer = BasketLine(first.sku, first.category, first.quantity, first.unit_price + raise_by)
        assert _base_points(spec, [dearer, *lines[1:]]) >= before


@given(
    st.sampled_from(["day", "week", "month", "year"]),
    moments,
    st.sampled_from([AMS, HAVANA, ZoneInfo("America/Santiago"), ZoneInfo("Australia/Lord_Howe")]),
)
def test_period_start_is_the_first_instant_of_the_period(
    period: str, at: datetime, zone: ZoneInfo
) -> None:
    start = period_start(period, at, zone)
    assert start is not None
    assert start <= at
    assert start.utcoffset() == timedelta(0)
    assert period_start(period, start, zone) == start
    # the instant just before belongs to an earlier period
    previous = period_start(period, start - timedelta(microseconds=1), zone)
    assert previous is not None and previous < start
    local_start = start.astimezone(zone)
    assert local_start.time() < time(2, 0)
    expected_day = {
        "day": at.astimezone(zone).date(),
        "week": at.astimezone(zone).date() - timedelta(days=at.astimezone(zone).weekday()),
        "month": at.astimezone(zone).date().replace(day=1),
        "year": date(at.astimezone(zone).year, 1, 1),
    }[period]
    assert local_start.date() == expected_day
