"""What recording a purchase reads once the member's account is locked, in one statement:
whether the external id was recorded before, the member's tier row, what they earned within
each cap, their lot sums (kept for the balance the purchase announces, `lots`) and what
counts toward their tier (kept for the tier check after the purchase, `qualification`).

Sent after the lock is granted, so on PostgreSQL it sees every change of the member's points
that committed before (READ COMMITTED takes a new snapshot per statement)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
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


# The statement per shape (the cap keys, which of them never end, the tier windows), built
# once with bound parameters so that a purchase only binds its values.
_statements: dict[tuple[Any, ...], Select[Any]] = {}


def _statement(
    file: ProgrammeFile, keys: list[earning.CapKey], starts: list[Any], windows: int
) -> Select[Any]:
    spend = file.tiers is not None and file.tiers.qualify_on == "spend"
    shape = (tuple(keys), tuple(start is None for start in starts), windows, spend)
    found = _statements.get(shape)
    if found is None:
        member: Any = bindparam("member_id")
        since: list[Any] = [
            None if start is None else bindparam(f"cap_{i}") for i, start in enumerate(starts)
        ]
        tier: list[tuple[Any, Any]] = [
            (bindparam(f"tier_from_{i}"), bindparam(f"tier_to_{i}")) for i in range(windows)
        ]
        existing = select(Purchase.id).where(Purchase.external_id == bindparam("external_id"))
        query = (
            select(
                existing.scalar_subquery(),
                *caps.used_since(member, keys, since),
                *lots.columns(member, bindparam("now"), bindparam("horizon")),
                *qualification.columns(member, file, tier),
            )
            .select_from(PointAccount)
            .where(PointAccount.member_id == member)
        )
        found = _statements[shape] = tiers.with_row(query, PointAccount.member_id)
    return found


async def read(
    s: AsyncSession,
    member_id: int,
    external_id: str,
    file: ProgrammeFile,
    at: datetime,
    now: datetime,
) -> PurchaseContext:
    keys = earning.cap_keys(file.earning)
    starts = caps.starts(keys, at, file)
    windows = qualification.bounds(file, now)
    values: dict[str, Any] = {
        "member_id": member_id,
        "external_id": external_id,
        "now": now,
        "horizon": lots.horizon(now),
        **{f"cap_{i}": start for i, start in enumerate(starts) if start is not None},
        **{f"tier_from_{i}": start for i, (start, _) in enumerate(windows)},
        **{f"tier_to_{i}": end for i, (_, end) in enumerate(windows)},
    }
    row = (await s.execute(_statement(file, keys, starts, len(windows)), values)).one()
    used = caps.read_used(keys, row[1 : 1 + len(keys)])
    lots.keep(s, member_id, now, row[1 + len(keys) : 5 + len(keys)])
    tiers.note_row(s, member_id, row[-1])
    if windows:
        qualification.keep(s, member_id, file, now, list(row[5 + len(keys) : -1]))
    return PurchaseContext(existing_id=row[0], used=used, tier_row=row[-1])
