"""Programme plans on the demo data, on SQLite and PostgreSQL: the replay under the running
file gives what the database holds, the replay under a new file gives what applying it to a
copy of the database and replaying the same history gives, and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select

from api.cli.programme import render, scratch_in
from api.wiring import wire_database
from loyalty.core.clock import FixedClock
from loyalty.core.personal import installed_keyring
from loyalty.demo.data import DEMO_PROGRAMME, load_demo
from loyalty.members.models import Member
from loyalty.planning.replay import Figures, plan
from loyalty.points.models import LedgerEntry, MemberEvent, PointAccount, Purchase
from loyalty.points.service import (
    EventInput,
    MemberRef,
    PointsService,
    PurchaseInput,
    PurchaseLine,
)
from loyalty.programme import parse_programme, store
from loyalty.programme.install import install_programme
from loyalty.programme.models import ProgrammeVersion
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade
from loyalty.tiers import service as tiers
from tests.loyalty.services import cheap_hasher

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def richer_programme() -> str:
    text = DEMO_PROGRAMME.read_text(encoding="utf-8")
    changed = text.replace("points_per_unit: 10 ", "points_per_unit: 25 ", 1)
    assert changed != text
    return changed


async def reality(db: Database, now: datetime) -> tuple[int, int, dict[str, int], int]:
    """Points issued and outstanding, members per tier, and rows written, as `db` holds them."""
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        issued = await s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.kind.in_(("earn", "bonus", "reverse"))
            )
        )
        outstanding = await s.scalar(select(func.coalesce(func.sum(PointAccount.balance), 0)))
        file = await store.current_file(s)
        member_ids = list(await s.scalars(select(Member.id)))
        levels = await tiers.current_levels(s, member_ids, file, now)
        rows = await s.scalar(select(func.count()).select_from(LedgerEntry))
        rows += await s.scalar(select(func.count()).select_from(ProgrammeVersion)) or 0
    counts = {level.key: 0 for level in file.tiers.levels} if file.tiers else {}
    for level in levels.values():
        counts[level.key] += 1
    return int(issued or 0), int(outstanding or 0), counts, int(rows or 0)


async def copy_and_replay(source: Database, text: str, folder: Path) -> Database:
    """A copy of the demo's members with `text` applied, and the demo's purchases and events
    recorded again, as they were, in the order they were recorded."""
    copy = Database(f"sqlite+aiosqlite:///{folder / 'copy.db'}")
    await upgrade(copy)
    wire_database(copy, keyring=installed_keyring(source.info))
    async with source.unit_of_work(write=False) as uow:
        s = uow.session
        members = [dict(row._mapping) for row in await s.execute(select(Member.__table__))]
        purchases = list(await s.scalars(select(Purchase).order_by(Purchase.id)))
        events = list(await s.scalars(select(MemberEvent).order_by(MemberEvent.id)))
    async with copy.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(text), NOW - timedelta(days=90))
        await uow.session.execute(insert(Member), members)
        await uow.commit()
    clock = FixedClock(NOW)
    points = PointsService(copy, clock)
    for item in sorted(
        [*purchases, *events], key=lambda i: (i.recorded_at, isinstance(i, Purchase), i.id)
    ):
        clock.set(item.recorded_at)
        ref = MemberRef(member_id=item.member_id)
        if isinstance(item, Purchase):
            lines = [
                PurchaseLine(
                    x["sku"], Decimal(x["quantity"]), Decimal(x["unit_price"]), x["category"]
                )
                for x in item.lines
            ]
            await points.record_purchase(
                PurchaseInput(ref, item.external_id, lines, item.occurred_at, item.store)
            )
        else:
            await points.record_event(
                EventInput(ref, item.external_id, item.name, item.occurred_at, item.properties)
            )
    return copy


def same(figures: Figures, truth: tuple[int, int, dict[str, int], int]) -> None:
    assert (figures.points_issued, figures.points_outstanding, figures.tiers) == truth[:3]


async def test_a_plan_matches_the_database_and_a_copy_with_the_file_applied(
    db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    clock.set(NOW)
    await load_demo(db, clock, cheap_hasher())
    before = await reality(db, NOW)
    assert before[0] > 0
    text = richer_programme()
    result = await plan(
        db,
        parse_programme(text),
        scratch_in(tmp_path, installed_keyring(db.info)),
        NOW - timedelta(days=60),
        NOW,
    )
    # Nothing was written to the database planned against.
    assert await reality(db, NOW) == before
    # Replaying the running file gives what the database holds.
    same(result.current, before)
    assert result.current.purchases == 8 and result.current.events > 0
    # Replaying the new file gives what applying it to a copy and replaying gives.
    (tmp_path / "copy").mkdir()
    copy = await copy_and_replay(db, text, tmp_path / "copy")
    try:
        truth = await reality(copy, NOW)
    finally:
        await copy.dispose()
    same(result.planned, truth)
    assert result.planned.points_issued > result.current.points_issued
    assert result.planned.liability == Decimal(truth[1]) * Decimal("0.01")
    assert "~ earning: points_per_unit: '10' -> '25'" in result.changes
    lines = render(result, 60)
    assert any(line.split()[:2] == ["points", "issued"] for line in lines)
