"""Replaying real purchases, returns and events under a programme file, in a scratch
database, to see what the file would have done.

The scratch database gets a copy of the members (as they are now), the file, and then the
purchases, returns and events recorded in the window, each through the same services as a
till's, at the instant it was recorded and in that order; every earning rule, cap, tier,
offer and return rule applies as it would have. Members start with no points and the lowest
tier: history before the window is not replayed, the same for both files compared. The
source database is only read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import FixedClock
from loyalty.members.models import Member
from loyalty.points.models import LedgerEntry, MemberEvent, PointAccount, Purchase, PurchaseReturn
from loyalty.points.service import (
    EventInput,
    MemberRef,
    PointsService,
    PurchaseInput,
    PurchaseLine,
    ReturnInput,
    ReturnLine,
)
from loyalty.programme.install import install_programme
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers

# A scratch database, migrated, wired with the reactions, and empty.
Scratch = Callable[[], Awaitable[Database]]


@dataclass(frozen=True)
class Figures:
    """What a programme file gave in a replay."""

    purchases: int
    events: int
    returns: int
    points_issued: int  # earned from purchases and events, less what returns took back
    points_outstanding: int  # the members' balances at the end
    liability: Decimal  # outstanding x the file's point value
    tiers: dict[str, int]  # members per tier at the end


@dataclass(frozen=True)
class History:
    """What the window held: members, and purchases, returns and events in recorded order."""

    members: list[dict[str, Any]]
    steps: list[tuple[datetime, int, Any]]


async def read_history(source: Database, since: datetime, until: datetime) -> History:
    async with source.unit_of_work(write=False) as uow:
        s = uow.session
        members = [dict(row._mapping) for row in await s.execute(select(Member.__table__))]
        purchases = await s.scalars(
            select(Purchase).where(Purchase.recorded_at >= since, Purchase.recorded_at <= until)
        )
        returns = await s.execute(
            select(PurchaseReturn, Purchase.external_id)
            .join(Purchase, Purchase.id == PurchaseReturn.purchase_id)
            .where(PurchaseReturn.recorded_at >= since, PurchaseReturn.recorded_at <= until)
        )
        events = await s.scalars(
            select(MemberEvent).where(
                MemberEvent.recorded_at >= since, MemberEvent.recorded_at <= until
            )
        )
        steps: list[tuple[datetime, int, Any]] = [(p.recorded_at, 1, p) for p in purchases]
        steps += [(e.recorded_at, 0, e) for e in events]
        steps += [(r.recorded_at, 2, (r, external)) for r, external in returns]
    steps.sort(key=lambda step: (step[0], step[1], _id(step[2])))
    return History(members, steps)


def _id(item: Any) -> int:
    return int(item[0].id if isinstance(item, tuple) else item.id)


async def replay(scratch: Database, file: ProgrammeFile, history: History) -> Figures:
    """Apply `file` to the empty scratch database, copy the members, replay the history."""
    clock = FixedClock(history.steps[0][0] if history.steps else datetime.now().astimezone())
    async with scratch.unit_of_work() as uow:
        await install_programme(uow.session, file, clock.now(), note="plan replay")
        if history.members:
            await uow.session.execute(insert(Member), history.members)
        await uow.commit()
    points = PointsService(scratch, clock)
    for at, _, item in history.steps:
        clock.set(at)
        await _step(points, item)
    return await figures(scratch, history, clock.now())


async def _step(points: PointsService, item: Any) -> None:
    if isinstance(item, Purchase):
        lines = [
            PurchaseLine(
                line["sku"],
                Decimal(line["quantity"]),
                Decimal(line["unit_price"]),
                line["category"],
            )
            for line in item.lines
        ]
        ref = MemberRef(member_id=item.member_id)
        data = PurchaseInput(ref, item.external_id, lines, item.occurred_at, item.store)
        await points.record_purchase(data, actor=item.recorded_by)
    elif isinstance(item, MemberEvent):
        ref = MemberRef(member_id=item.member_id)
        await points.record_event(
            EventInput(ref, item.external_id, item.name, item.occurred_at, item.properties)
        )
    else:
        row, purchase = item
        back = [ReturnLine(line["sku"], Decimal(line["quantity"])) for line in row.lines]
        amount = None if back else row.amount
        await points.record_return(ReturnInput(purchase, row.external_id, back, amount))


async def figures(db: Database, history: History, now: datetime) -> Figures:
    """Points issued, outstanding and the tier of every member, as the database holds them."""
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        file = await current_file(s)
        issued = await _sum(
            s, LedgerEntry.points, LedgerEntry.kind.in_(("earn", "bonus", "reverse"))
        )
        outstanding = await _sum(s, PointAccount.balance)
        member_ids = [m["id"] for m in history.members]
        levels = await tiers.current_levels(s, member_ids, file, now)
    counts = {level.key: 0 for level in file.tiers.levels} if file.tiers else {}
    for level in levels.values():
        counts[level.key] += 1
    kinds = [kind for _, kind, _ in history.steps]
    return Figures(
        purchases=kinds.count(1),
        events=kinds.count(0),
        returns=kinds.count(2),
        points_issued=issued,
        points_outstanding=outstanding,
        liability=(outstanding * file.programme.point_value).quantize(Decimal("0.01")),
        tiers=counts,
    )


async def _sum(s: AsyncSession, column: Any, *where: Any) -> int:
    return int(await s.scalar(select(func.coalesce(func.sum(column), 0)).where(*where)) or 0)


@dataclass(frozen=True)
class Plan:
    changes: list[str]
    current: Figures
    planned: Figures


async def plan(
    source: Database, file: ProgrammeFile, scratch: Scratch, since: datetime, until: datetime
) -> Plan:
    """What `file` changes against the programme in force, and both replayed over the window."""
    from loyalty.planning.changes import changes

    async with source.unit_of_work(write=False) as uow:
        running = await current_file(uow.session)
    history = await read_history(source, since, until)
    current = await _replayed(scratch, running, history)
    planned = await _replayed(scratch, file, history)
    return Plan(changes(running, file), current, planned)


async def _replayed(scratch: Scratch, file: ProgrammeFile, history: History) -> Figures:
    db = await scratch()
    try:
        return await replay(db, file, history)
    finally:
        await db.dispose()
