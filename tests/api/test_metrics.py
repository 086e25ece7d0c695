"""`/metrics` as Prometheus scrapes it: a purchase shows up in the request counters and the
points issued; the backlog gauges and the token protection."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.core.metrics import UNREGISTERED, operation_names
from loyalty.core.clock import FixedClock
from tests.api.test_points_api import RECORD_PURCHASE, Shop
from tests.support.data import api_key, install
from tests.support.server import ServerHandle

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def shop(server: ServerHandle, clean_database: str, server_clock: FixedClock) -> Shop:
    install(clean_database)
    now = server_clock.now()
    till = server.client(api_key(clean_database, ["pos"], now, "Till 1"))
    office = server.client(api_key(clean_database, ["admin"], now, "Back office"))
    return Shop(server, server_clock, till, office)


def scrape(server: ServerHandle) -> Samples:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def issued(samples: Samples) -> float:
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "trouw_points_total" and ("direction", "issued") in labels
    )


def eventually(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the metrics did not show it"
        time.sleep(0.05)


def test_a_purchase_shows_in_the_counters(shop: Shop) -> None:
    member = shop.member("metrics@example.com")
    before = scrape(shop.server)
    shop.till.data(
        RECORD_PURCHASE,
        {
            "input": {
                "member": {"barcodeMessage": member.barcode},
                "externalId": "metrics-1",
                "lines": [{"sku": "KOFFIE", "quantity": "2", "unitPrice": "12.50"}],
            }
        },
        operation_name="RecordPurchase",
    )
    after = scrape(shop.server)
    requests = "trouw_graphql_requests_total"
    ok = {"operation": "RecordPurchase", "outcome": "ok"}
    assert value(after, requests, **ok) == value(before, requests, **ok) + 1
    latency = "trouw_graphql_request_duration_seconds_count"
    assert value(after, latency, operation="RecordPurchase") == (
        value(before, latency, operation="RecordPurchase") + 1
    )
    # The points are counted once the relay has published the balance change.
    eventually(lambda: issued(scrape(shop.server)) >= issued(before) + 25)
    final = scrape(shop.server)
    assert value(final, "trouw_outbox_unpublished") == 0
    assert ("trouw_db_pool_connections", frozenset({("state", "in_use")})) in final
    assert ("trouw_deliveries_queued", frozenset({("state", "dead")})) in final


def test_operations_outside_the_registered_documents_share_one_label(shop: Shop) -> None:
    before = scrape(shop.server)
    shop.till.post("query Whatever { __typename }", operation_name="Whatever")
    shop.till.post("{ noSuchField }")
    after = scrape(shop.server)
    requests = "trouw_graphql_requests_total"
    assert value(after, requests, operation=UNREGISTERED, outcome="ok") == (
        value(before, requests, operation=UNREGISTERED, outcome="ok") + 1
    )
    assert value(after, requests, operation=UNREGISTERED, outcome="refused") == (
        value(before, requests, operation=UNREGISTERED, outcome="refused") + 1
    )
    assert not any(labels and ("operation", "Whatever") in labels for _, labels in after)


def test_operation_names_of_documents() -> None:
    names = operation_names(["query A { x } mutation B { y }", "{ anonymous }"])
    assert names == frozenset({"A", "B"})
