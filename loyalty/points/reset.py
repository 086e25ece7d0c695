"""Resetting points at the tier recalculation (`tiers.reset_points`): what the member earned
before the closed period ended, spendable or still pending, is taken back as one `expire`
entry. Points earned since, and debt, are left alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.points import ledger
from loyalty.points.models import LedgerEntry, PointAccount, PointLot


async def reset_points(
    s: AsyncSession, account: PointAccount, before: datetime, now: datetime
) -> LedgerEntry | None:
    """Take what is left of every lot earned before `before` (the caller holds the lock);
    None when nothing was left. Running it again at once takes nothing."""
    await ledger.settle(s, account, now)
    lots = list(
        await s.scalars(
            select(PointLot)
            .where(
                PointLot.member_id == account.member_id,
                PointLot.remaining > 0,
                PointLot.occurred_at < before,
                or_(PointLot.expires_at.is_(None), PointLot.expires_at > now),
            )
            .order_by(*ledger.SPEND_ORDER)
        )
    )
    points = sum(lot.remaining for lot in lots)
    if points == 0:
        return None
    entry, taken = await ledger.debit(
        s,
        account,
        "expire",
        points,
        now=now,
        first=lots,
        meta=ledger.EntryMeta("Points reset at the tier recalculation", source_type="reset"),
    )
    account.lifetime_expired += taken
    return entry
