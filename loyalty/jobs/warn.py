"""Warn before expiry: one `points.expiring` event per member and expiry instant, the
programme's `warn_days_before` ahead."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select

from loyalty.core.events import PointsExpiring
from loyalty.core.outbox import emit
from loyalty.jobs.batch import BATCH
from loyalty.points.models import PointLot
from loyalty.programme.store import current_file
from loyalty.storage.database import Database


async def warn_expiring(db: Database, now: datetime) -> int:
    """One `points.expiring` event per member and expiry instant, `warn_days_before` ahead."""
    async with db.unit_of_work(write=False) as uow:
        file = await current_file(uow.session)
    days = file.points.expiry.warn_days_before
    if days == 0:
        return 0
    horizon = now + timedelta(days=days)
    async with db.unit_of_work() as uow:
        s = uow.session
        lots = list(
            await s.scalars(
                select(PointLot)
                .where(
                    PointLot.warned_at.is_(None),
                    PointLot.remaining > 0,
                    PointLot.expires_at > now,
                    PointLot.expires_at <= horizon,
                )
                .order_by(PointLot.member_id, PointLot.expires_at)
                .limit(BATCH * 10)
                # Several schedulers may run at once: lots another one is warning about are
                # skipped, not warned twice (SQLite has one writer at a time anyway).
                .with_for_update(skip_locked=True)
            )
        )
        groups: dict[tuple[int, datetime], int] = defaultdict(int)
        for lot in lots:
            assert lot.expires_at is not None
            groups[(lot.member_id, lot.expires_at)] += lot.remaining
            lot.warned_at = now
        for (member_id, expires_at), points in groups.items():
            emit(s, PointsExpiring(member_id=member_id, points=points, expires_at=expires_at), now)
        await uow.commit()
    return len(groups)
