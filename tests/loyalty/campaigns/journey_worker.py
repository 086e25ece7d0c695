"""A worker as a process of its own, for the campaign tests that run several at once or kill
one: `python -m tests.loyalty.campaigns.journey_worker` with TEST_DATABASE_URL in the
environment. Each round runs the after-commit reactions (campaign entries, waits ended by
an event), the `campaigns` job (due steps) and the notification worker (inbox, pushes to a
push service that accepts everything). SIGTERM stops it gracefully."""

from __future__ import annotations

import asyncio
import os
import signal

from api.wiring import build_reactions, wire_database
from loyalty.core.clock import SystemClock
from loyalty.core.reactions import ReactionRunner
from loyalty.jobs.campaigns import run_campaigns
from loyalty.storage.database import Database
from notifications.channels import PushMessage, PushResult
from notifications.config import NotificationConfig
from notifications.worker import Worker
from tests.support.data import server_ids


class AcceptingPush:
    """A push service that takes every push."""

    def __init__(self, platform: str) -> None:
        self.platform = platform

    async def send(self, token: str, message: PushMessage) -> PushResult:
        return PushResult("delivered")


async def main() -> None:
    db = Database(os.environ["TEST_DATABASE_URL"])
    reactions = build_reactions()
    wire_database(db, reactions)
    clock = SystemClock()
    runner = ReactionRunner(db, reactions, clock, batch=10)
    config = NotificationConfig(ids=server_ids(), batch_size=10)
    worker = Worker(db, clock, config, {"ios": AcceptingPush("ios")})
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("journey worker ready", flush=True)
    try:
        while not stop.is_set():
            moved = await runner.run_once()
            moved += await run_campaigns(db, clock.now())
            moved += await worker.run_once()
            if not moved:
                await asyncio.sleep(0.05)
    finally:
        await worker.aclose()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
