"""The purchase `bench_purchases.py` measures and `tests/api/test_round_trips.py` counts: the
issue's case of a base rate, a multiplier, a bonus, a daily cap, a pending period, expiry and
two tiers (no offers, no surveys), a three-line basket, and the tills' registered
`RecordPurchase` document sent by its hash (Apollo's persisted query extension)."""

from __future__ import annotations

from typing import Any

from api.core.persisted import read_manifest
from api.wiring import CONTRACT_DOCUMENTS

PROGRAMME = """
programme: {key: bench, name: Bench, currency: EUR, point_value: "0.01", timezone: Europe/Amsterdam}
points: {pending_days: 14, expiry: {method: end_of_year, years: 1}}
earning:
  base: {points_per_unit: 1, rounding: down, exclude_categories: [giftcard]}
  rules:
    - {key: pastry, kind: multiplier, multiplier: 2, categories: [pastry]}
    - {key: big, kind: bonus, points: 25, min_order: "20.00"}
  caps: [{per: day, points: 100000}]
tiers:
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: zilver, name: Zilver, threshold: 500, earn_multiplier: "1.25"}
"""
BASKET = [
    {"sku": "KOF-01", "quantity": "2", "unitPrice": "3.20", "category": "coffee"},
    {"sku": "GEB-07", "quantity": "1", "unitPrice": "4.75", "category": "pastry"},
    {"sku": "GC-25", "quantity": "1", "unitPrice": "25.00", "category": "giftcard"},
]
# The hash of the contract's RecordPurchase in the registered manifest.
RECORD_PURCHASE_HASH = next(
    digest
    for digest, body in read_manifest(CONTRACT_DOCUMENTS).items()
    if body.startswith("mutation RecordPurchase(")
)


def record_purchase(member_number: str, external_id: str) -> dict[str, Any]:
    """The JSON body a till posts for one purchase of the basket."""
    purchase = {"member": {"memberNumber": member_number}, "externalId": external_id}
    return {
        "operationName": "RecordPurchase",
        "variables": {"input": {**purchase, "lines": BASKET}},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": RECORD_PURCHASE_HASH}},
    }
