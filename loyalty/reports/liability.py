"""Figures for programme managers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.points.models import PointAccount, PointLot
from loyalty.programme.store import current_file


@dataclass(frozen=True)
class Liability:
    currency: str
    point_value: Decimal
    available: int
    pending: int
    debt: int

    @property
    def outstanding(self) -> int:
        """Points the programme may still have to honour: spendable, pending, less debt."""
        return self.available + self.pending - self.debt

    @property
    def value(self) -> Decimal:
        return (self.point_value * self.outstanding).quantize(Decimal("0.01"))


async def liability(s: AsyncSession, now: datetime) -> Liability:
    file = await current_file(s)
    live = or_(PointLot.expires_at.is_(None), PointLot.expires_at > now)
    row = (
        await s.execute(
            select(
                func.coalesce(
                    func.sum(
                        case(
                            (and_(PointLot.available_at <= now, live), PointLot.remaining), else_=0
                        )
                    ),
                    0,
                ),
                func.coalesce(
                    func.sum(case((PointLot.available_at > now, PointLot.remaining), else_=0)), 0
                ),
            ).where(PointLot.remaining > 0)
        )
    ).one()
    debt = await s.scalar(select(func.coalesce(func.sum(PointAccount.debt), 0)))
    return Liability(
        currency=file.programme.currency,
        point_value=file.programme.point_value,
        available=int(row[0]),
        pending=int(row[1]),
        debt=int(debt or 0),
    )
