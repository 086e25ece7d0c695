"""Kill a real reaction runner with SIGKILL half-way through an after-commit reaction and
start another: every event gets the reaction's database effect exactly once, and the effect
outside the database (a log line) at least once. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from loyalty.core.clock import FixedClock
from loyalty.core.events import PurchaseRecorded
from loyalty.core.models import OutboxEvent, ReactionReceipt
from loyalty.messaging.models import InboxMessage
from loyalty.points.service import MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database
from tests.loyalty.reaction_process import REACTION
from tests.loyalty.services import add_member
from tests.support.processes import REPO, environment

PROGRAMME = """\
programme:
  key: winkel
  name: Winkel
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
earning:
  base:
    points_per_unit: 10
"""


def start_runner(database_url: str, log: Path, hang_on: int | None) -> subprocess.Popen[str]:
    extra = {"TEST_DATABASE_URL": database_url, "TEST_LOG": str(log)}
    if hang_on is not None:
        extra["TEST_HANG_ON"] = str(hang_on)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.loyalty.reaction_process"],
        env=environment(database_url, **extra),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "runner ready" in line, line + proc.stdout.read()
    return proc


async def _purchases(db: Database, clock: FixedClock, n: int) -> list[int]:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(PROGRAMME), clock.now())
        await uow.commit()
    anna = await add_member(db, clock)
    points = PointsService(db, clock)
    for i in range(n):
        line = PurchaseLine("koffie", Decimal(1), Decimal("3.50"))
        await points.record_purchase(PurchaseInput(MemberRef(member_id=anna.id), f"p{i}", [line]))
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(
                select(OutboxEvent.id)
                .where(OutboxEvent.topic == PurchaseRecorded.name)
                .order_by(OutboxEvent.id)
            )
        )


async def _handled(db: Database) -> tuple[int, list[str]]:
    async with db.unit_of_work(write=False) as uow:
        receipts = await uow.session.scalar(
            select(func.count()).where(ReactionReceipt.reaction == REACTION)
        )
        titles = list(await uow.session.scalars(select(InboxMessage.title)))
    return int(receipts or 0), sorted(titles)


async def _wait_for(db: Database, receipts: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (await _handled(db))[0] < receipts:
        assert time.monotonic() < deadline, f"still waiting for {receipts} receipts"
        await asyncio.sleep(0.05)


async def test_a_killed_runner_gives_each_event_its_effect_once(
    database_url: str, db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    events = await _purchases(db, clock, 5)
    log = tmp_path / "reaction.log"
    hang_on = events[2]
    first = start_runner(database_url, log, hang_on)
    try:
        assert first.stdout is not None
        assert "hanging" in first.stdout.readline()
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    receipts, titles = await _handled(db)
    # Killed half-way through the third event: its effect and receipt were never committed.
    assert (receipts, titles) == (2, ["thanks for p0", "thanks for p1"])

    second = start_runner(database_url, log, None)
    try:
        await _wait_for(db, len(events))
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=10)
    receipts, titles = await _handled(db)
    assert receipts == len(events)
    assert titles == [f"thanks for p{i}" for i in range(5)]
    started = log.read_text().split()
    assert started.count(str(hang_on)) == 2  # at least once outside the database
    assert all(started.count(str(e)) == 1 for e in events if e != hang_on)
