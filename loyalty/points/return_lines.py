"""Returns by lines: pricing what comes back as it was bought.

A SKU may be on several lines of one purchase at different prices (a discounted unit beside
a full-price one). Returned units are matched to those lines highest unit price first, after
the units earlier returns took (in the same order), so a return of every unit is priced at
exactly what the lines were worth, and a partial return never takes back less than the
dearest unit still unreturned earned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loyalty.core.errors import DomainError
from loyalty.points import earning
from loyalty.points.errors import PointsError
from loyalty.points.refs import money
from loyalty.programme.spec import EarningSpec


@dataclass(frozen=True)
class PricedReturn:
    """Money returned, the part of it that earned points, and the lines as recorded."""

    amount: Decimal
    eligible: Decimal
    lines: list[dict[str, str]]


def bought_by_sku(lines: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The purchase's lines per SKU, in the order returned units are matched to them."""
    bought: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        bought.setdefault(line["sku"], []).append(line)
    for matches in bought.values():
        # Stable: lines at the same price keep the till's order.
        matches.sort(key=lambda line: Decimal(line["unit_price"]), reverse=True)
    return bought


def _units(
    matches: list[dict[str, Any]], skip: Decimal, quantity: Decimal
) -> list[tuple[dict[str, Any], Decimal]]:
    """The lines `quantity` units come from once `skip` units were taken, with how many."""
    taken = []
    for line in matches:
        have = Decimal(line["quantity"])
        passed = min(skip, have)
        skip -= passed
        part = min(have - passed, quantity)
        if part > 0:
            taken.append((line, part))
            quantity -= part
    return taken


def price_lines(
    purchase_lines: Sequence[dict[str, Any]],
    returned: Sequence[tuple[str, Decimal]],
    already: dict[str, Decimal],
    spec: EarningSpec,
) -> PricedReturn:
    """The returned (sku, quantity) pairs priced as bought; `already` (units per SKU earlier
    returns brought back) is updated as lines are counted."""
    bought = bought_by_sku(purchase_lines)
    amount = eligible = Decimal(0)
    recorded = []
    for sku, quantity in returned:
        matches = bought.get(sku)
        if not matches:
            raise DomainError(
                PointsError.RETURN_LINE_NOT_IN_PURCHASE, f"{sku} was not bought", "lines"
            )
        total = sum((Decimal(m["quantity"]) for m in matches), Decimal(0))
        done = already.get(sku, Decimal(0))
        if quantity <= 0 or quantity > total - done:
            raise DomainError(
                PointsError.RETURN_EXCEEDS_PURCHASE, f"More {sku} returned than bought", "lines"
            )
        for line, part in _units(matches, done, quantity):
            price = Decimal(line["unit_price"])
            amount += part * price
            item = earning.BasketLine(line["sku"], line["category"], part, price)
            eligible += earning.eligible_total(spec, [item])
        already[sku] = done + quantity
        recorded.append({"sku": sku, "quantity": str(quantity)})
    return PricedReturn(money(amount), money(eligible), recorded)
