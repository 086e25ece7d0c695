"""Late delivery to Excuse+: entry on the event, the offer, the points (once), the inbox
message, the wait for a purchase with its timeout; held-out members receive nothing; every
step has one receipt. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from api.wiring import build_reactions
from loyalty.campaigns.holdouts import held_out
from loyalty.campaigns.runner import run_due
from loyalty.campaigns.service import CampaignsService
from loyalty.core.clock import FixedClock
from loyalty.core.reactions import ReactionRunner
from loyalty.points.models import LedgerEntry
from loyalty.points.service import MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.storage.database import Database
from tests.loyalty.campaigns.helpers import contact_log, install, journeys, programme, steps
from tests.loyalty.services import add_member


async def _member(db: Database, clock: FixedClock, n: int, *, treated: bool) -> int:
    """A member on the wanted side of the Excuse+ holdout (10 %)."""
    while True:
        m = await add_member(db, clock, f"m{n}@example.com", consents={"in_app": True})
        if held_out("excuse", m.id, 0.1) != treated:
            return m.id
        n += 1000


async def test_late_delivery_gives_excuse_plus_to_the_treated_only(
    db: Database, clock: FixedClock
) -> None:
    await install(db, clock, programme(0.1))
    runner = ReactionRunner(db, build_reactions(), clock)
    service = CampaignsService(db, clock)
    anna = await _member(db, clock, 1, treated=True)
    bert = await _member(db, clock, 2, treated=False)
    for member_id in (anna, bert):
        await service.report_late_delivery(MemberRef(member_id=member_id), f"o-{member_id}", 2)
    while await runner.run_once():
        pass

    found = {j.member_id: j for j in await journeys(db)}
    assert found[anna].held_out is False and found[bert].held_out is True
    assert found[anna].state == found[bert].state == "waiting"
    by_journey: dict[int, list[tuple[str, str]]] = {}
    for step in await steps(db):
        by_journey.setdefault(step.enrolment_id, []).append((step.step_key, step.state))
    assert by_journey[found[anna].id] == [
        ("grant", "done"),
        ("points", "done"),
        ("tell", "done"),
        ("wait", "waiting"),
    ]
    assert by_journey[found[bert].id] == [
        ("grant", "held_out"),
        ("points", "held_out"),
        ("tell", "held_out"),
        ("wait", "waiting"),
    ]
    async with db.unit_of_work(write=False) as uow:
        given = list(
            await uow.session.scalars(
                select(LedgerEntry).where(LedgerEntry.actor == "campaign:excuse")
            )
        )
    assert [(e.member_id, e.points) for e in given] == [(anna, 100)]
    log = await contact_log(db)
    assert [(c.member_id, c.sent) for c in log] == [(anna, True)]

    # Anna buys: her wait ends at once; Bert's times out after 48 hours, to the reminder.
    points = PointsService(db, clock)
    line = PurchaseLine("koffie", Decimal(1), Decimal("3.50"))
    await points.record_purchase(PurchaseInput(MemberRef(member_id=anna), "p1", [line]))
    while await runner.run_once():
        pass
    clock.advance(timedelta(hours=49))
    assert await run_due(db, clock.now()) == 1
    found = {j.member_id: j for j in await journeys(db)}
    assert found[anna].state == found[bert].state == "completed"
    keys = [(s.enrolment_id, s.step_key, s.state) for s in await steps(db)]
    assert (found[anna].id, "wait", "received") in keys
    assert (found[bert].id, "wait", "timed_out") in keys
    assert (found[bert].id, "remind", "held_out") in keys
    assert len(keys) == len(set((e, s) for e, s, _ in keys)) + 2  # only the waits twice


async def test_the_budget_stops_the_second_message_of_the_day(
    db: Database, clock: FixedClock
) -> None:
    text = (
        programme(0)
        .replace("per_day: 1", "per_day: 1")
        .replace("rules: {once: false, reenter_after_days: 1}", "rules: {once: false}")
    )
    await install(db, clock, text)
    runner = ReactionRunner(db, build_reactions(), clock)
    service = CampaignsService(db, clock)
    anna = (await add_member(db, clock, "a@example.com", consents={"in_app": True})).id
    bert = (await add_member(db, clock, "b@example.com", consents={"in_app": False})).id
    await service.report_late_delivery(MemberRef(member_id=anna), "o1", 2)
    await service.report_late_delivery(MemberRef(member_id=bert), "o2", 2)
    while await runner.run_once():
        pass
    clock.advance(timedelta(hours=49))  # anna's reminder: the second message, a new day
    await run_due(db, clock.now())
    log = [(c.member_id, c.sent, c.reason) for c in await contact_log(db)]
    assert (bert, False, "no_consent") in log
    assert log.count((anna, True, None)) == 2  # one a day, two a week


def test_holdout_is_deterministic_and_close_to_its_share() -> None:
    for share in (0.1, 0.25, 0.5):
        held = sum(held_out("welcome", m, share) for m in range(1, 10_001))
        assert abs(held / 10_000 - share) <= 0.02
        assert [held_out("welcome", m, share) for m in range(50)] == [
            held_out("welcome", m, share) for m in range(50)
        ]
