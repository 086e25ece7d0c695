"""Move campaign journeys on: scheduled entries whose time has come, then due steps and
waits for an event whose time ran out. Each journey moves in a transaction of its own, with
a receipt per step, so a job killed half-way repeats nothing and skips nothing."""

from __future__ import annotations

from datetime import datetime

from loyalty.campaigns.runner import run_due, run_schedules
from loyalty.storage.database import Database


async def run_campaigns(db: Database, now: datetime) -> int:
    """Returns how many journeys entered or moved (at most a batch of due ones)."""
    return await run_schedules(db, now) + await run_due(db, now)
