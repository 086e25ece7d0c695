"""Rebuild segment memberships: fresh RFM cut points and every member re-evaluated, once a
day (or at once after a segment's rules changed), a batch of members per transaction."""

from __future__ import annotations

from datetime import datetime

from loyalty.jobs.batch import BATCH
from loyalty.segments.rebuild import rebuild_step
from loyalty.storage.database import Database


async def rebuild_segments(db: Database, now: datetime) -> int:
    return await rebuild_step(db, now, BATCH)
