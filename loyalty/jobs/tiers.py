"""Recalculate tiers: at the start of a period, each member's tier follows qualification."""

from __future__ import annotations

from datetime import datetime

from loyalty.jobs.batch import BATCH
from loyalty.points import ledger
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers


async def recalculate_tiers(db: Database, now: datetime) -> int:
    async with db.unit_of_work(write=False) as uow:
        file = await current_file(uow.session)
        member_ids = await tiers.due_for_recalculation(uow.session, file, now, BATCH)
    for member_id in member_ids:
        async with db.unit_of_work() as uow:
            # Under the member's lock, like every other change: a second scheduler recalculating
            # the same member waits, then finds the tier already changed and announces nothing.
            await ledger.lock_account(uow.session, member_id, now)
            await tiers.recalculate(uow.session, member_id, file, now)
            await uow.commit()
    return len(member_ids)
