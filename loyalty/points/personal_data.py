"""What points holds about a member: the ledger, purchases with their returns, activities.
All of it stays on erasure (the books), except what an activity's properties carried."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.personal_data import Holding, PersonalDataRegistry, keep, rows_as_dicts, rows_of
from loyalty.points.models import (
    LedgerEntry,
    MemberEvent,
    PointAccount,
    PointLot,
    Purchase,
    PurchaseReturn,
)


async def _purchases(session: AsyncSession, member_id: int) -> Any:
    found = list(
        await session.scalars(
            select(Purchase).where(Purchase.member_id == member_id).order_by(Purchase.id)
        )
    )
    returns = list(
        await session.scalars(
            select(PurchaseReturn)
            .where(PurchaseReturn.purchase_id.in_([p.id for p in found]))
            .order_by(PurchaseReturn.id)
        )
    )
    out = rows_as_dicts(found, ("member_id",))
    for purchase in out:
        purchase["returns"] = rows_as_dicts([r for r in returns if r.purchase_id == purchase["id"]])
    return out


async def _forget_properties(session: AsyncSession, member_id: int, now: datetime) -> None:
    await session.execute(
        update(MemberEvent).where(MemberEvent.member_id == member_id).values(properties={})
    )


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "points",
            "pointAccount",
            ("point_accounts",),
            rows_of(PointAccount),
            keep,
            erasure="kept: the balance and its totals",
        )
    )
    registry.add(
        Holding(
            "points",
            "ledger",
            ("ledger_entries", "point_lots"),
            _ledger,
            keep,
            erasure="kept: every entry and lot, with amounts and dates",
        )
    )
    registry.add(
        Holding(
            "points",
            "purchases",
            ("purchases", "purchase_returns"),
            _purchases,
            keep,
            erasure="kept: amounts, lines, stores and dates",
        )
    )
    registry.add(
        Holding(
            "points",
            "activities",
            ("member_events",),
            rows_of(MemberEvent),
            _forget_properties,
            erasure="kept, with their free-form properties emptied",
        )
    )


async def _ledger(session: AsyncSession, member_id: int) -> Any:
    return {
        "entries": await rows_of(LedgerEntry)(session, member_id),
        "lots": await rows_of(PointLot)(session, member_id),
    }
