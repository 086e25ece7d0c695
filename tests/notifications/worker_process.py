"""A notification worker as a process of its own, for the tests that kill one:
`python -m tests.notifications.worker_process` with TEST_DATABASE_URL, TEST_HOOK_URL,
TEST_HOOK_SECRET, TEST_LEASE_SECONDS and TEST_HOOK_EVENTS (the endpoint's event patterns,
comma-separated) in the environment. SIGTERM stops it gracefully."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

from loyalty.core.clock import SystemClock
from loyalty.storage.database import Database
from notifications.config import NotificationConfig, WebhookEndpoint
from notifications.worker import Worker
from tests.support.data import server_ids


async def main() -> None:
    lease = float(os.environ["TEST_LEASE_SECONDS"])
    config = NotificationConfig(
        ids=server_ids(),
        webhooks=(
            WebhookEndpoint(
                os.environ["TEST_HOOK_URL"],
                os.environ["TEST_HOOK_SECRET"],
                tuple(os.environ["TEST_HOOK_EVENTS"].split(",")),
            ),
        ),
        lease=timedelta(seconds=lease),
        webhook_timeout=lease * 0.75,
    )
    db = Database(os.environ["TEST_DATABASE_URL"])
    worker = Worker(db, SystemClock(), config, {})
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("worker ready", flush=True)
    try:
        await worker.run(stop, interval=0.05)
    finally:
        await worker.aclose()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
