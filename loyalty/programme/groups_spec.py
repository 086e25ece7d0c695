"""The `categories:` and `offer_groups:` sections of a programme file, and the references to
them.

`categories:` declares the product categories a till sends on its lines. An offer that works
on some categories must name declared ones (a typo would otherwise make it silently never
apply). Earning rules are checked against the list only when the file declares one, so files
written before the section existed keep loading.

`offer_groups:` says how offers in one group combine at the till: `stack` (all apply), `best`
(the one worth most to the member) or `first` (the highest priority).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

from loyalty.programme.offers_spec import OfferSpec
from loyalty.programme.spec_base import Key, SpecModel, _require_unique

GroupRule = Literal["stack", "best", "first"]
Loc = tuple[str | int, ...]


class OfferGroupSpec(SpecModel):
    """Offers that combine by one rule when several of them fit a purchase."""

    key: Key
    rule: GroupRule = "best"
    description: str | None = None


def declared_categories(categories: Sequence[str]) -> set[str]:
    _require_unique(list(categories), "category")
    return set(categories)


def offer_group_problems(
    offers: Sequence[OfferSpec], groups: Sequence[OfferGroupSpec], categories: set[str]
) -> Iterator[tuple[Loc, str]]:
    """(location, message) for each offer naming an unknown group or category."""
    _require_unique([g.key for g in groups], "offer group")
    known_groups = {g.key for g in groups}
    for index, offer in enumerate(offers):
        if offer.group is not None and offer.group not in known_groups:
            yield (
                ("offers", index, "group"),
                (
                    f"offer {offer.key} names unknown group {offer.group}; declare it under "
                    "`offer_groups:`"
                ),
            )
        unknown = sorted(set(offer.categories) - categories)
        if unknown:
            yield (
                ("offers", index, "categories"),
                (
                    f"offer {offer.key} names unknown category(ies): {', '.join(unknown)}; "
                    "declare them under `categories:`"
                ),
            )


def earning_category_problems(
    rules: Sequence[tuple[Loc, Sequence[str]]], categories: set[str]
) -> Iterator[tuple[Loc, str]]:
    """Earning rules' categories against the declared ones (only when some are declared)."""
    if not categories:
        return
    for loc, named in rules:
        unknown = sorted(set(named) - categories)
        if unknown:
            yield (
                loc,
                f"unknown category(ies): {', '.join(unknown)}; declare them under `categories:`",
            )
