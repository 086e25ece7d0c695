"""The programme is kept in memory by every server process and refreshed when it changes:
two `trouw serve` processes on one database both see a newly applied programme at once."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.support.data import api_key, install
from tests.support.processes import environment, trouw_serve

PREVIEW = """
query Preview($input: PurchasePreviewInput!) {
  purchasePreview(input: $input) { points }
}"""
BASKET = {"lines": [{"sku": "KOF-01", "quantity": "1", "unitPrice": "10.00"}]}


def _programme(points_per_unit: int) -> str:
    return (
        "programme: {key: cache, name: Cache, currency: EUR, point_value: '0.01', "
        "timezone: Europe/Amsterdam}\n"
        f"earning: {{base: {{points_per_unit: {points_per_unit}, rounding: down}}}}\n"
    )


def _earned(base: str, key: str) -> int:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": PREVIEW, "variables": {"input": BASKET}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    body = response.json()
    assert not body.get("errors"), body
    return int(body["data"]["purchasePreview"]["points"])


def test_two_processes_see_a_new_programme_at_once(private_database: str) -> None:
    install(private_database, _programme(1))
    key = api_key(private_database, ["pos"], datetime.now(UTC))
    env = environment(private_database, TROUW_SECRET_KEY="programme-cache-" + "k" * 32)
    with trouw_serve(env) as (first, _), trouw_serve(env) as (second, _):
        assert _earned(first, key) == _earned(second, key) == 10
        # Applied by a third process, as `trouw programme apply` does.
        install(private_database, _programme(3))
        assert _earned(first, key) == _earned(second, key) == 30
        install(private_database, _programme(2))
        assert _earned(second, key) == _earned(first, key) == 20
