"""Combining the offers that fit a purchase: pure, deterministic, explained."""

from __future__ import annotations

import itertools
from decimal import Decimal

from loyalty.offers.combine import Candidate, combine, offer_ids

POINT = Decimal("0.01")


def _points(
    offer_id: int, key: str, points: int, group: str | None = None, priority: int = 0
) -> Candidate:
    return Candidate(offer_id, key, group, priority, points, Decimal(0), points * POINT)


def _off(
    offer_id: int, key: str, amount: str, group: str | None = None, priority: int = 0
) -> Candidate:
    return Candidate(offer_id, key, group, priority, 0, Decimal(amount), Decimal(amount))


RULES = {"weekend": "best", "koffie": "first", "extra": "stack"}


def test_ungrouped_offers_all_apply() -> None:
    slots = combine([_points(1, "a", 10), _off(2, "b", "1.00")], RULES)
    assert [(s.candidates[0].key, s.explain(s.candidates[0])) for s in slots] == [
        ("a", "applies"),
        ("b", "applies"),
    ]


def test_best_picks_the_most_worth_and_says_what_it_beat() -> None:
    slots = combine(
        [_points(1, "tachtig", 80, "weekend", 5), _points(2, "honderd", 120, "weekend")], RULES
    )
    (slot,) = slots
    assert [c.key for c in slot.candidates] == ["honderd", "tachtig"]
    assert slot.explain(slot.candidates[0]) == (
        "best in group weekend: 120 points beats 80 points (tachtig)"
    )


def test_best_compares_money_and_points_by_point_value() -> None:
    (slot,) = combine(
        [_points(1, "punten", 150, "weekend"), _off(2, "euro", "1.00", "weekend")], RULES
    )
    assert slot.candidates[0].key == "punten"  # 150 points = 1.50 > 1.00


def test_best_tie_goes_to_priority_then_key() -> None:
    (slot,) = combine(
        [
            _points(1, "b", 50, "weekend", 1),
            _points(2, "a", 50, "weekend", 1),
            _points(3, "c", 50, "weekend", 2),
        ],
        RULES,
    )
    assert [c.key for c in slot.candidates] == ["c", "a", "b"]
    assert slot.explain(slot.candidates[0]).endswith("ties with 50 points (a), wins on priority")


def test_first_goes_by_priority_then_key() -> None:
    (slot,) = combine([_points(1, "x", 500, "koffie", 1), _off(2, "y", "0.10", "koffie", 3)], RULES)
    assert slot.candidates[0].key == "y"
    assert slot.explain(slot.candidates[0]) == "first in group koffie by priority 3 over x"


def test_stack_applies_every_member_of_the_group() -> None:
    slots = combine([_points(1, "a", 5, "extra"), _points(2, "b", 7, "extra")], RULES)
    assert [s.explain(s.candidates[0]) for s in slots] == ["stacks in group extra"] * 2


def test_a_fallback_says_which_could_not_apply() -> None:
    (slot,) = combine([_points(1, "a", 80, "weekend"), _points(2, "b", 120, "weekend")], RULES)
    assert slot.explain(slot.candidates[1]).endswith("; b could not apply")


def test_the_same_candidates_in_any_order_give_the_same_slots() -> None:
    candidates = [
        _points(1, "a", 80, "weekend"),
        _points(2, "b", 120, "weekend"),
        _points(3, "c", 10),
        _off(4, "d", "0.50", "koffie", 2),
        _off(5, "e", "0.75", "koffie", 2),
        _points(6, "f", 3, "extra"),
    ]
    seen = {
        tuple(
            (tuple(c.key for c in slot.candidates), slot.explain(slot.candidates[0]))
            for slot in combine(order, RULES)
        )
        for order in itertools.permutations(candidates)
    }
    assert len(seen) == 1
    assert offer_ids(combine(candidates, RULES)) == [1, 2, 3, 4, 5, 6]
