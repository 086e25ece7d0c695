"""Carry out the erasures whose grace period is over (`loyalty.privacy`)."""

from __future__ import annotations

from datetime import datetime

from loyalty.core.clock import FixedClock
from loyalty.jobs.batch import BATCH
from loyalty.privacy.service import PrivacyService
from loyalty.storage.database import Database


async def erase_members(db: Database, now: datetime) -> int:
    return await PrivacyService(db, FixedClock(now)).erase_due(BATCH)
