"""A worker process is killed (SIGKILL) while it moves many members' journeys, and another
takes over: every journey ends with one receipt per step, the offer granted once, the points
of each step awarded once and the message sent once. On SQLite and PostgreSQL."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import exists, func, select

from api.wiring import wire_database
from loyalty.campaigns.models import CampaignEnrolment, CampaignStep
from loyalty.campaigns.service import CampaignsService
from loyalty.core.clock import FixedClock
from loyalty.core.models import OutboxEvent
from loyalty.messaging.models import ContactLog, InboxMessage, OutboxDispatch
from loyalty.offers.models import MemberOffer
from loyalty.points.models import LedgerEntry
from loyalty.points.service import MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.storage.database import Database
from tests.loyalty.campaigns.helpers import install
from tests.loyalty.campaigns.processes import start_journey_worker, stop, wait_until
from tests.loyalty.services import add_member

MEMBERS = 60
PROGRAMME = """\
programme:
  key: winkel
  name: Winkel
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
offers:
  - key: welkom
    title: Welkom - 200 extra punten
    kind: bonus_points
    points: 200
    activation: auto
    eligibility: {granted_only: true}
campaigns:
  contact: {per_day: 5, per_week: 10, quiet_hours: null}
  templates:
    - {key: dank, title: Dank je, body: Fijn dat je er weer was.}
  definitions:
    - key: welkom
      name: Welkom
      holdout_share: 0
      entry: {event: delivery.late}
      steps:
        - {key: offer, grant_offer: {offer: welkom}}
        - {key: points, award_points: {points: 50}}
        - key: wait
          wait_for: {event: purchase.recorded, timeout_hours: 24}
        - {key: tell, send: {channel: inbox, template: dank}}
        - {key: bonus, award_points: {points: 25}}
        - {key: done, exit: true}
"""
STEPS = [
    ("offer", "done"),
    ("points", "done"),
    ("wait", "waiting"),
    ("wait", "received"),
    ("tell", "done"),
    ("bonus", "done"),
    ("done", "done"),
]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def shared_db(private_database: str) -> Iterator[tuple[str, Database]]:
    yield private_database, Database(private_database)


async def _count(db: Database, state: str) -> int:
    async with db.unit_of_work(write=False) as uow:
        found = await uow.session.scalar(
            select(func.count())
            .select_from(CampaignEnrolment)
            .where(CampaignEnrolment.state == state)
        )
    return int(found or 0)


async def test_a_killed_worker_runs_no_step_twice_and_skips_none(
    shared_db: tuple[str, Database], clock: FixedClock
) -> None:
    url, db = shared_db
    wire_database(db)
    try:
        await _run(url, db, clock)
        await _check(db)
    finally:
        await db.dispose()


async def _run(url: str, db: Database, clock: FixedClock) -> None:
    await install(db, clock, PROGRAMME)
    ids = [
        (await add_member(db, clock, f"m{n}@example.com", consents={"in_app": True})).id
        for n in range(MEMBERS)
    ]
    campaigns = CampaignsService(db, clock)
    for member_id in ids:
        await campaigns.report_late_delivery(MemberRef(member_id=member_id), f"o{member_id}", 1)
    doomed = start_journey_worker(url)
    killed = False
    try:
        await wait_until(lambda: _waiting_some(db), [doomed], 120, "the first journeys to wait")
        points = PointsService(db, clock)  # the purchases end the waits while it works
        line = PurchaseLine("koffie", Decimal(1), Decimal("3.50"))
        for member_id in ids:
            await points.record_purchase(
                PurchaseInput(MemberRef(member_id=member_id), f"p{member_id}", [line])
            )
        await wait_until(lambda: _completed_some(db), [doomed], 120, "a journey to end")
        doomed.send_signal(signal.SIGKILL)  # mid-campaign: journeys are moving
        killed = True
        doomed.wait(timeout=10)
    finally:
        if not killed:
            doomed.kill()
            doomed.wait(timeout=10)
    assert await _count(db, "completed") < MEMBERS  # it was killed half-way
    survivor = start_journey_worker(url)
    try:
        await wait_until(lambda: _all_completed(db), [survivor], 180, "every journey to end")
    finally:
        stop([survivor])


async def _waiting_some(db: Database) -> bool:
    return await _count(db, "waiting") >= 5


async def _completed_some(db: Database) -> bool:
    return await _count(db, "completed") >= 1


async def _all_completed(db: Database) -> bool:
    """Every journey ended, and every message handed to the inbox."""
    if await _count(db, "completed") < MEMBERS:
        return False
    async with db.unit_of_work(write=False) as uow:
        waiting = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(~exists().where(OutboxDispatch.event_id == OutboxEvent.id))
        )
    return waiting == 0


async def _check(db: Database) -> None:
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        journeys = list(await s.scalars(select(CampaignEnrolment)))
        receipts = list(
            await s.scalars(
                select(CampaignStep).order_by(CampaignStep.enrolment_id, CampaignStep.seq)
            )
        )
        awards = list(
            await s.scalars(select(LedgerEntry).where(LedgerEntry.actor == "campaign:welkom"))
        )
        offers = list(await s.scalars(select(MemberOffer)))
        sent = list(await s.scalars(select(ContactLog).where(ContactLog.sent.is_(True))))
        inbox = list(await s.scalars(select(InboxMessage)))
    assert len(journeys) == MEMBERS
    by_journey: dict[int, list[tuple[str, str]]] = {j.id: [] for j in journeys}
    for receipt in receipts:
        by_journey[receipt.enrolment_id].append((receipt.step_key, receipt.state))
    wrong = {j: steps for j, steps in by_journey.items() if steps != STEPS}
    assert wrong == {}
    members = {j.member_id for j in journeys}
    assert Counter((e.member_id, e.points) for e in awards) == Counter(
        {(m, p): 1 for m in members for p in (50, 25)}
    )
    assert Counter(o.member_id for o in offers) == Counter({m: 1 for m in members})
    assert Counter(c.member_id for c in sent) == Counter({m: 1 for m in members})
    assert Counter(m.member_id for m in inbox) == Counter({m: 1 for m in members})
