"""What a till's `RecordPurchase` costs the database, counted at the engine over real HTTP:
every statement, BEGIN, COMMIT and ROLLBACK is one round trip (asyncpg sends BEGIN on its
own). PostgreSQL only: that is where round trips cost, and SQLite has no network."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from bench.purchase_case import BASKET, PROGRAMME
from loyalty.core.clock import FixedClock
from tests.contract.operations import operation
from tests.support.data import api_key, install
from tests.support.flows import sign_up
from tests.support.server import ServerHandle

RECORD_PURCHASE = operation("pos/pos.graphql", "RecordPurchase")
ME = "query { me { memberNumber } }"
# Measured: 10, in one transaction (BEGIN; the member and their account, locked, with the
# programme's revision and the other areas' probes: any live offer or survey, an open referral;
# what the purchase needs once the lock is held: the external id, the tier row, the day's
# capped points, the lot sums, what counts toward the tier; the purchase, its entries, the
# account, its lots; the audit log's entry of the till's mutation; the outbox; COMMIT).
# Before: 28 in 3 transactions, then 22 in 1 (idempotency, programme, tier, caps, lot sums,
# offers, surveys, referrals each a round trip; the tier check four), then 13 (the tier check
# a query of its own, the audit entry in a transaction of its own after the purchase's).
MAX_ROUND_TRIPS = 10


@pytest.fixture
def round_trips(server: ServerHandle) -> Iterator[list[str]]:
    """Every round trip the shared server makes for requests while the test runs."""
    app: Any = server.server.config.app
    engine = app.state.services.db.engine.sync_engine
    sent: list[str] = []
    lock = threading.Lock()

    def record(name: str) -> Any:
        def listener(*args: Any) -> None:
            task = asyncio.current_task()
            if task is not None and task.get_name().startswith("trouw-"):
                return
            with lock:
                sent.append(args[2] if name == "statement" else name)

        return listener

    listeners = [
        ("before_cursor_execute", record("statement")),
        ("begin", record("BEGIN")),
        ("commit", record("COMMIT")),
        ("rollback", record("ROLLBACK")),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield sent
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def test_a_purchase_takes_few_round_trips(
    server: ServerHandle, clean_database: str, server_clock: FixedClock, round_trips: list[str]
) -> None:
    if not clean_database.startswith("postgresql"):
        pytest.skip("counts PostgreSQL round trips")
    install(clean_database, PROGRAMME)
    member = server.client()
    member.token = sign_up(member, "trips@example.com")["session"]["accessToken"]
    number = member.data(ME)["me"]["memberNumber"]
    till = server.client(api_key(clean_database, ["pos"], server_clock.now(), "Till 1"))
    counts = []
    for i in range(3):
        round_trips.clear()
        payload = till.data(
            RECORD_PURCHASE,
            {
                "input": {
                    "member": {"memberNumber": number},
                    "externalId": f"T-{i}",
                    "lines": BASKET,
                }
            },
        )["recordPurchase"]
        assert payload["userErrors"] == [] and payload["purchase"]["pointsEarned"] > 0
        counts.append(len(round_trips))
        print(
            f"purchase {i}: {len(round_trips)}",
            *[" ".join(t.split())[:150] for t in round_trips],
            sep="\n  ",
        )
    balance = payload["member"]["balance"]
    assert balance["available"] + balance["pending"] > 0
    assert max(counts[1:]) <= MAX_ROUND_TRIPS, counts
    # The audit entry commits with the purchase: one transaction.
    assert round_trips.count("BEGIN") == 1 and round_trips[-1] == "COMMIT"
    assert any(t.startswith("INSERT INTO audit_entries") for t in round_trips)
