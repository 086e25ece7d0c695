"""What recording a purchase reads once the member's account is locked, in one statement:
whether the external id was recorded before, the member's tier row, what they earned within
each cap, their lot sums (kept for the balance the purchase announces, `lots`) and what
counts toward their tier (kept for the tier check after the purchase, `qualification`).

Sent after the lock is granted, so on PostgreSQL it sees every change of the member's points
that committed before (READ COMMITTED takes a new snapshot per statement)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.points import caps, earning, lots
from loyalty.points.models import PointAccount, Purchase
from loyalty.programme.spec import ProgrammeFile
from loyalty.tiers import qualification
from loyalty.tiers import service as tiers


@dataclass(frozen=True)
class PurchaseContext:
    existing_id: int | None
    used: dict[earning.CapKey, int]
    # Held so that the session keeps it (its identity map holds weak references) until the
    # tier checks of the purchase and its reactions have read it.
    tier_row: object | None


async def read(
    s: AsyncSession,
    member_id: int,
    external_id: str,
    file: ProgrammeFile,
    at: datetime,
    now: datetime,
) -> PurchaseContext:
    keys = earning.cap_keys(file.earning)
    existing = select(Purchase.id).where(Purchase.external_id == external_id).scalar_subquery()
    counted = qualification.columns(member_id, file, now)
    query = (
        select(
            existing,
            *caps.used_columns(member_id, keys, at, file),
            *lots.columns(member_id, now),
            *counted,
        )
        .select_from(PointAccount)
        .where(PointAccount.member_id == member_id)
    )
    row = (await s.execute(tiers.with_row(query, PointAccount.member_id))).one()
    used = caps.read_used(keys, row[1 : 1 + len(keys)])
    lots.keep(s, member_id, now, row[1 + len(keys) : 5 + len(keys)])
    if counted:
        qualification.keep(s, member_id, file, now, list(row[5 + len(keys) : -1]))
    return PurchaseContext(existing_id=row[0], used=used, tier_row=row[-1])
