"""What one offer gives on a basket, before limits and budget: pure arithmetic.

An offer works on the lines its `categories` / `skus` name (none named: every line).
Multipliers and bonus points give points; a multiplier gives (multiplier - 1) x the base
points of its lines, rounded as the base rate rounds, on the lines that earn at all. Percent
off, amount off and free item give a discount on their lines: percent of their amount (to
the cent, half up), the amount but never more than the lines are worth, and one unit of the
cheapest line whose SKU or category is the free item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from loyalty.points import earning
from loyalty.programme.offers_spec import OfferSpec
from loyalty.programme.spec import EarningSpec

CENT = Decimal("0.01")
_ROUNDING = {"down": ROUND_FLOOR, "nearest": ROUND_HALF_UP, "up": ROUND_CEILING}


@dataclass(frozen=True)
class Effect:
    points: int
    discount: Decimal
    note: str  # what it was computed on, for the explanation

    @property
    def empty(self) -> bool:
        return self.points <= 0 and self.discount <= 0


def lines_of(spec: OfferSpec, lines: Sequence[earning.BasketLine]) -> list[earning.BasketLine]:
    if not spec.categories and not spec.skus:
        return list(lines)
    return [line for line in lines if line.category in spec.categories or line.sku in spec.skus]


def effect(spec: OfferSpec, lines: Sequence[earning.BasketLine], rules: EarningSpec) -> Effect:
    """What the offer gives on these lines (an empty effect when it has nothing to work on)."""
    mine = lines_of(spec, lines)
    scope = "the basket" if mine == list(lines) else f"{len(mine)} line(s)"
    if not mine:
        return Effect(0, Decimal(0), "no line it applies to")
    amount = sum((line.amount for line in mine), Decimal(0))
    if spec.kind == "bonus_points":
        return Effect(spec.points or 0, Decimal(0), f"bonus on {scope}")
    if spec.kind == "points_multiplier":
        return Effect(
            _extra_points(spec, mine, lines, rules), Decimal(0), f"x{spec.multiplier} on {scope}"
        )
    if spec.kind == "percent_off":
        off = (amount * (spec.percent or 0) / 100).quantize(CENT, ROUND_HALF_UP)
        return Effect(0, off, f"{spec.percent}% of {amount:.2f}")
    if spec.kind == "amount_off":
        return Effect(0, min(spec.amount or Decimal(0), amount), f"off {amount:.2f}")
    free = [line for line in mine if spec.item in (line.sku, line.category)]
    if not free:
        return Effect(0, Decimal(0), f"no {spec.item} in the basket")
    return Effect(0, min(line.unit_price for line in free), f"one {spec.item} free")


def _extra_points(
    spec: OfferSpec,
    mine: Sequence[earning.BasketLine],
    basket: Sequence[earning.BasketLine],
    rules: EarningSpec,
) -> int:
    base = rules.base
    eligible = earning.eligible_lines(base, mine)
    if earning.eligible_total(rules, basket) < base.min_order or spec.multiplier is None:
        return 0
    points = sum((line.amount * base.points_per_unit for line in eligible), Decimal(0))
    extra = (spec.multiplier - 1) * points
    return int(extra.to_integral_value(rounding=_ROUNDING[base.rounding]))
