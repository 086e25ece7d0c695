"""An after-commit reaction runner as a process of its own, for the test that kills one:
`python -m tests.loyalty.reaction_process` with TEST_DATABASE_URL, TEST_LOG (a file the
reaction appends to as it starts on each event, its effect outside the database) and
optionally TEST_HANG_ON (an event id on which the reaction stops half-way, its database
effect written but not committed, until the process is killed)."""

from __future__ import annotations

import asyncio
import os
import signal

from sqlalchemy.ext.asyncio import AsyncSession

from api.wiring import build_reactions, wire_database
from loyalty.core.clock import SystemClock
from loyalty.core.events import PurchaseRecorded, Recorded
from loyalty.core.reactions import ReactionRunner
from loyalty.messaging.models import InboxMessage
from loyalty.storage.database import Database

REACTION = "test.thank_for_purchase"


async def thank(s: AsyncSession, recorded: Recorded[PurchaseRecorded]) -> None:
    with open(os.environ["TEST_LOG"], "a") as log:
        log.write(f"start {recorded.id}\n")
    assert recorded.event.member_id is not None
    s.add(
        InboxMessage(
            member_id=recorded.event.member_id,
            title=f"thanks for {recorded.event.external_id}",
            body="",
            created_at=recorded.occurred_at,
        )
    )
    await s.flush()
    if os.environ.get("TEST_HANG_ON") == str(recorded.id):
        print("hanging", flush=True)
        await asyncio.Event().wait()


async def main() -> None:
    reactions = build_reactions()
    reactions.on_commit(REACTION, [PurchaseRecorded], thank)
    db = Database(os.environ["TEST_DATABASE_URL"])
    wire_database(db, reactions)
    runner = ReactionRunner(db, reactions, SystemClock(), batch=10)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("runner ready", flush=True)
    try:
        await runner.run(stop, interval=0.05)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
