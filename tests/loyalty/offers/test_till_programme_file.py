"""The programme file's `categories:` and `offer_groups:` sections and the offers' references
to them, each problem at its own line."""

from __future__ import annotations

from loyalty.programme import Problem, parse_programme
from tests.loyalty.test_programme_file import VALID, problems_in

OFFER = "  - key: taart\n    title: Taart\n    kind: percent_off\n    percent: 10\n"


def test_offer_naming_unknown_category_or_group_fails_at_its_line() -> None:
    text = (
        VALID
        + "categories: [koffie]\noffers:\n"
        + OFFER
        + ("    categories: [gebak]\n    group: weekend\n")
    )
    assert problems_in(text) == [
        Problem(
            "offers[0].categories",
            13,
            17,
            "offer taart names unknown category(ies): gebak; declare them under `categories:`",
        ),
        Problem(
            "offers[0].group",
            14,
            12,
            "offer taart names unknown group weekend; declare it under `offer_groups:`",
        ),
    ]


def test_categories_and_groups_declared_load() -> None:
    text = VALID + (
        "categories: [koffie, gebak]\noffer_groups:\n  - {key: weekend, rule: first}\noffers:\n"
        + OFFER
        + "    categories: [gebak]\n    group: weekend\n    priority: 3\n"
    )
    offer = parse_programme(text).offers[0]
    assert (offer.categories, offer.group, offer.priority) == (["gebak"], "weekend", 3)


def test_earning_categories_are_checked_only_when_categories_are_declared() -> None:
    rules = (
        "earning:\n  base: {exclude_categories: [cadeaubon]}\n  rules:\n"
        "    - {key: thee, kind: bonus, points: 5, categories: [thee]}\n"
    )
    assert parse_programme(VALID + rules).earning.rules[0].categories == ["thee"]
    found = problems_in(VALID + "categories: [koffie]\n" + rules)
    assert [(p.path, p.line) for p in found] == [
        ("earning.base.exclude_categories", 9),
        ("earning.rules[0].categories", 11),
    ]


def test_unknown_group_rule_and_duplicate_groups() -> None:
    bad_rule = VALID + "offer_groups:\n  - {key: weekend, rule: all}\n"
    assert [p.path for p in problems_in(bad_rule)] == ["offer_groups[0].rule"]
    twice = VALID + "offer_groups:\n  - {key: weekend}\n  - {key: weekend}\n"
    assert "offer group key used more than once: weekend" in problems_in(twice)[0].message
