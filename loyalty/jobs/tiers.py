"""Recalculate tiers: at the start of a period, each member's tier follows qualification (and
their points are reset when the programme says so)."""

from __future__ import annotations

from datetime import datetime

from loyalty.jobs.batch import BATCH
from loyalty.points import ledger
from loyalty.points.balances import balance_event
from loyalty.points.reset import reset_points
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers import periods
from loyalty.tiers import service as tiers


async def recalculate_tiers(db: Database, now: datetime) -> int:
    async with db.unit_of_work(write=False) as uow:
        file = await current_file(uow.session)
        member_ids = await tiers.due_for_recalculation(uow.session, file, now, BATCH)
    resets = file.tiers is not None and file.tiers.reset_points
    for member_id in member_ids:
        async with db.unit_of_work() as uow:
            s = uow.session
            # Under the member's lock, like every other change: a second scheduler recalculating
            # the same member waits, then finds the tier already changed and announces nothing.
            account = await ledger.lock_account(s, member_id, now)
            closed = await periods.closing_period_start(s, member_id, file, now) if resets else None
            await tiers.recalculate(s, member_id, file, now)
            if closed is not None:
                entry = await reset_points(s, account, closed, now)
                if entry is not None:
                    await balance_event(s, member_id, [entry], now)
            await uow.commit()
    return len(member_ids)
