"""Kill a real worker process in the middle of delivery (SIGKILL while its webhook requests
are in flight) and start another: every event is delivered, none lost, and the duplicates
carry the same event id. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest

from loyalty.core.clock import FixedClock
from loyalty.storage.database import Database
from tests.notifications.helpers import SECRET, deliveries, earned, event, member
from tests.notifications.standin import webhook_receiver
from tests.support.processes import REPO, environment

LEASE_SECONDS = 3.0


def start_worker(database_url: str, hook_url: str) -> subprocess.Popen[str]:
    env = environment(
        database_url,
        TEST_DATABASE_URL=database_url,
        TEST_HOOK_URL=hook_url,
        TEST_HOOK_SECRET=SECRET,
        TEST_LEASE_SECONDS=str(LEASE_SECONDS),
        # The test's events only (the member's signing up is one too).
        TEST_HOOK_EVENTS="balance.changed",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.notifications.worker_process"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "worker ready" in line, line + proc.stdout.read()
    return proc


@pytest.fixture
def clock() -> FixedClock:
    # The worker processes run on the real clock: the events must be as fresh.
    return FixedClock(datetime.now(UTC))


async def test_a_killed_worker_loses_nothing(
    database_url: str, db: Database, clock: FixedClock
) -> None:
    member_id = await member(db, clock, devices=())
    ids = [await event(db, clock, "balance.changed", member_id, earned(n)) for n in range(5)]
    gate = threading.Event()
    with webhook_receiver(gate=gate) as receiver:
        doomed = start_worker(database_url, receiver.url)
        try:
            deadline = time.monotonic() + 20
            while len(set(receiver.event_ids())) < len(ids):
                assert time.monotonic() < deadline, receiver.event_ids()
                await asyncio.sleep(0.02)
        finally:
            doomed.send_signal(signal.SIGKILL)  # mid-delivery: every request is in flight
            doomed.wait(timeout=10)
        gate.set()
        first_round = list(receiver.event_ids())
        assert sorted(first_round, key=int) == [str(i) for i in ids]
        assert all(d.status == "pending" for d in await deliveries(db, "webhook"))

        survivor = start_worker(database_url, receiver.url)
        try:
            deadline = time.monotonic() + LEASE_SECONDS + 20
            while any(d.status != "delivered" for d in await deliveries(db, "webhook")):
                assert time.monotonic() < deadline, "the survivor did not deliver"
                await asyncio.sleep(0.1)
        finally:
            survivor.send_signal(signal.SIGTERM)
            assert survivor.wait(timeout=20) == 0

    received = receiver.event_ids()
    assert set(received) == {str(i) for i in ids}  # none lost
    for event_id in ids:
        copies = [r for r in receiver.received if r.event_id == str(event_id)]
        assert len(copies) == 2  # one per worker: the killed one and the survivor
        assert copies[0].json == copies[1].json
