"""Expire points: write the expiry of every lot whose time has come."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from loyalty.jobs.batch import BATCH
from loyalty.points import ledger
from loyalty.points.balances import balance_event
from loyalty.points.models import PointLot
from loyalty.storage.database import Database


async def expire_points(db: Database, now: datetime) -> int:
    """Write the expiry of every lot whose time has come. Returns members affected."""
    async with db.unit_of_work(write=False) as uow:
        member_ids = list(
            await uow.session.scalars(
                select(PointLot.member_id)
                .where(
                    PointLot.remaining > 0,
                    PointLot.expires_at.is_not(None),
                    PointLot.expires_at <= now,
                )
                .distinct()
                .limit(BATCH)
            )
        )
    for member_id in member_ids:
        async with db.unit_of_work() as uow:
            account = await ledger.lock_account(uow.session, member_id, now)
            entries = await ledger.settle(uow.session, account, now)
            if entries:
                await balance_event(uow.session, member_id, entries, now)
            await uow.commit()
    return len(member_ids)
