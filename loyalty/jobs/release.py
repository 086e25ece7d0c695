"""Release pending points: tell members whose pending points became spendable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from loyalty.jobs.batch import BATCH
from loyalty.points import ledger
from loyalty.points.balances import balance_event
from loyalty.points.models import LedgerEntry, PointLot
from loyalty.storage.database import Database


async def release_pending(db: Database, now: datetime) -> int:
    """Tell members whose pending points became spendable. Balances are exact without this
    job (they are computed at read time); it exists so the member hears about it."""
    async with db.unit_of_work(write=False) as uow:
        member_ids = list(
            await uow.session.scalars(
                select(PointLot.member_id)
                .where(PointLot.released_at.is_(None), PointLot.available_at <= now)
                .distinct()
                .limit(BATCH)
            )
        )
    for member_id in member_ids:
        await _release(db, member_id, now)
    return len(member_ids)


async def _release(db: Database, member_id: int, now: datetime) -> None:
    async with db.unit_of_work() as uow:
        s = uow.session
        await ledger.lock_account(s, member_id, now)
        lots = list(
            await s.scalars(
                select(PointLot).where(
                    PointLot.member_id == member_id,
                    PointLot.released_at.is_(None),
                    PointLot.available_at <= now,
                )
            )
        )
        for lot in lots:
            lot.released_at = now
        # Points a return took back, or that expired while pending, became nothing.
        told = [
            lot.entry_id
            for lot in lots
            if lot.remaining > 0 and (lot.expires_at is None or lot.expires_at > now)
        ]
        entries = list(await s.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(told))))
        await balance_event(s, member_id, entries, now)
        await uow.commit()
