"""Give the rewards of referrals whose qualifying purchase is past its return window: one
transaction per referral, each reward once however many schedulers run
(`loyalty.referrals.granting`)."""

from __future__ import annotations

from datetime import datetime

from loyalty.jobs.batch import BATCH
from loyalty.referrals.service import due_referrals, grant_due
from loyalty.storage.database import Database


async def grant_referral_rewards(db: Database, now: datetime) -> int:
    """Reward up to BATCH due referrals; returns how many were due."""
    ids = await due_referrals(db, now, BATCH)
    for referral_id in ids:
        await grant_due(db, referral_id, now)
    return len(ids)
