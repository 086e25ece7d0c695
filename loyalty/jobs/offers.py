"""End offers for the members who hold them (the offers area says how: `offers.ending`)."""

from __future__ import annotations

from datetime import datetime

from loyalty.jobs.batch import BATCH
from loyalty.offers.ending import end_held_offers
from loyalty.storage.database import Database


async def end_offers(db: Database, now: datetime) -> int:
    """One batch of activations whose offer ended; returns how many were ended."""
    async with db.unit_of_work() as uow:
        ended = await end_held_offers(uow.session, now, BATCH)
        await uow.commit()
    return ended
