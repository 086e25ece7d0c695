"""Segment memberships: the full rebuild, the incremental update after a member's events,
reasons, `since`, and the events that say who entered and left."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event, select

from api.wiring import build_reactions
from loyalty.core.clock import FixedClock
from loyalty.core.events import SegmentEntered, SegmentLeft
from loyalty.core.models import OutboxEvent
from loyalty.core.reactions import ReactionRunner
from loyalty.jobs import JOBS, run_jobs
from loyalty.members.service import ProfileService
from loyalty.segments.membership import refresh_members
from loyalty.segments.models import Segment, SegmentMembership
from loyalty.segments.read import SegmentReads
from loyalty.segments.service import SegmentsService
from loyalty.storage.database import Database
from tests.loyalty.segments.programme import buy, days, did, install_text
from tests.loyalty.services import add_member

pytestmark = pytest.mark.asyncio
NOW = datetime.fromisoformat("2026-06-01T12:00:00+00:00")


async def _members_of(db: Database, key: str) -> dict[int, SegmentMembership]:
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalars(
            select(SegmentMembership)
            .join(Segment, Segment.id == SegmentMembership.segment_id)
            .where(Segment.key == key)
        )
        return {r.member_id: r for r in rows}


async def _topics(db: Database, member_id: int) -> list[tuple[str, str]]:
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent)
            .where(
                OutboxEvent.member_id == member_id,
                OutboxEvent.topic.in_([SegmentEntered.name, SegmentLeft.name]),
            )
            .order_by(OutboxEvent.id)
        )
        return [(r.topic, r.payload["segment_key"]) for r in rows]


async def _shoppers(db: Database, clock: FixedClock, counts: list[int]) -> list[int]:
    """Members who joined a year ago and bought `count` times, every ten days until now."""
    clock.set(NOW - days(400))
    ids = []
    for n, count in enumerate(counts):
        member = await add_member(db, clock, f"m{n}@example.com")
        ids.append(member.id)
        for i in range(count):
            await buy(db, clock, member.id, NOW - days(10 * i + 1))
    clock.set(NOW)
    return ids


async def test_the_rebuild_puts_the_top_quintile_in_with_its_reasons(
    db: Database, clock: FixedClock
) -> None:
    clock.set(NOW - days(400))
    await install_text(db, clock)
    ids = await _shoppers(db, clock, [1, 2, 3, 4, 5, 6, 7, 8, 9, 12])
    assert await SegmentsService(db, clock).rebuild() == 10
    top = await _members_of(db, "vaste-klanten")
    assert set(top) == {ids[-2], ids[-1]}
    assert top[ids[-1]].reasons == ["frequency quintile 5 (12 purchases in 365 days)"]
    assert top[ids[-1]].since == NOW
    assert await _topics(db, ids[-1]) == [("segment.entered", "vaste-klanten")]
    # Running it again changes nothing and says nothing.
    clock.set(NOW + days(0.01))
    await SegmentsService(db, clock).rebuild()
    assert (await _members_of(db, "vaste-klanten"))[ids[-1]].since == NOW
    assert await _topics(db, ids[-1]) == [("segment.entered", "vaste-klanten")]


async def test_time_alone_moves_a_member_to_at_risk_at_the_next_rebuild(
    db: Database, clock: FixedClock
) -> None:
    clock.set(NOW - days(400))
    await install_text(db, clock)
    [member] = await _shoppers(db, clock, [6])
    service = SegmentsService(db, clock)
    await service.rebuild()
    assert member not in await _members_of(db, "dreigen-te-gaan")
    clock.set(NOW + days(20))  # usually every 10 days; 21 days without a purchase
    await service.rebuild()
    [held] = (await _members_of(db, "dreigen-te-gaan")).values()
    assert held.reasons == [
        "lifecycle stage at_risk (21 days since the last purchase, usually every 10 (2.1x))"
    ]
    # A purchase brings them back at once, through the after-commit reaction.
    await buy(db, clock, member, clock.now())
    runner = ReactionRunner(db, build_reactions(), clock)
    while await runner.run_once():
        pass
    assert member not in await _members_of(db, "dreigen-te-gaan")
    assert [t for t in await _topics(db, member) if t[1] == "dreigen-te-gaan"] == [
        ("segment.entered", "dreigen-te-gaan"),
        ("segment.left", "dreigen-te-gaan"),
    ]


async def test_events_update_one_member_without_reading_the_others(
    db: Database, clock: FixedClock
) -> None:
    """The incremental update costs the same number of statements with 3 or 30 members."""
    clock.set(NOW - days(400))
    await install_text(db, clock)
    ids = await _shoppers(db, clock, [3] * 30)
    await SegmentsService(db, clock).rebuild()

    async def statements_for(member_ids: list[int]) -> int:
        counted: list[str] = []

        def count(*args: object) -> None:
            counted.append(str(args[2]))

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        try:
            async with db.unit_of_work() as uow:
                await refresh_members(uow.session, member_ids, clock.now())
                await uow.commit()
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        return len(counted)

    one = await statements_for(ids[:1])
    assert one == await statements_for(ids[1:2])
    assert await statements_for(ids[:3]) == await statements_for(ids) == one
    assert one <= 12


async def test_conditions_over_interests_location_activity_consent_and_tier(
    db: Database, clock: FixedClock
) -> None:
    clock.set(NOW - days(100))
    await install_text(db, clock)
    near = await add_member(
        db, clock, "near@example.com", profile={"interests": ["Koffie"]}, consents={"push": True}
    )
    far = await add_member(db, clock, "far@example.com", profile={"interests": ["koffie"]})
    for i in range(3):
        await buy(db, clock, near.id, NOW - days(5 + i), store="zuid")
        await buy(db, clock, far.id, NOW - days(5 + i), store="rotterdam")
    await did(db, clock, far.id, "review_written", NOW - days(3))
    await did(db, clock, far.id, "review_written", NOW - days(2))
    await did(db, clock, near.id, "review_written", NOW - days(40))
    clock.set(NOW)
    await SegmentsService(db, clock).rebuild()
    amsterdam = await _members_of(db, "koffie-in-amsterdam")
    assert set(amsterdam) == {near.id}
    assert amsterdam[near.id].reasons == [
        "interested in koffie",
        "usually buys at zuid, 4.1 km from centrum",
    ]
    reviewers = await _members_of(db, "reviewers")
    assert set(reviewers) == {far.id}
    assert reviewers[far.id].reasons == ["review_written 2 times in the last 30 days (at least 2)"]
    push = await _members_of(db, "push-of-goud")
    assert set(push) == {near.id} and push[near.id].reasons == ["consented to push"]
    # Withdrawing the consent takes the member out, through the consent event.
    await ProfileService(db, clock).set_consent(near.id, "push", False)
    runner = ReactionRunner(db, build_reactions(), clock)
    while await runner.run_once():
        pass
    assert await _members_of(db, "push-of-goud") == {}


async def test_the_rebuild_is_a_scheduled_job_that_runs_once_a_day(
    db: Database, clock: FixedClock
) -> None:
    assert "segments" in JOBS
    clock.set(NOW - days(400))
    await install_text(db, clock)
    await _shoppers(db, clock, [1, 12])
    assert (await run_jobs(db, clock, ["segments"]))["segments"] == 2
    assert (await run_jobs(db, clock, ["segments"]))["segments"] == 0
    clock.set(NOW + days(1))
    assert (await run_jobs(db, clock, ["segments"]))["segments"] == 2


async def test_rfm_quintiles_rank_recency_frequency_and_spend_across_buyers(
    db: Database, clock: FixedClock
) -> None:
    """Ten buyers: the n-th bought n times, the last time n days ago, for n times €10 each time."""
    clock.set(NOW - days(400))
    await install_text(db, clock)
    ids = []
    for n in range(1, 11):
        member = await add_member(db, clock, f"rfm{n}@example.com")
        ids.append(member.id)
        for i in range(n):
            await buy(db, clock, member.id, NOW - days(n + 20 * i), euros=f"{n * 10}.00")
    clock.set(NOW)
    await SegmentsService(db, clock).rebuild()
    profiles = await SegmentReads(db, clock).insights(ids)
    scores = [(p.recency, p.frequency, p.monetary) for p in profiles if p is not None]
    assert scores == [
        (5, 1, 1),
        (5, 1, 1),
        (4, 2, 2),
        (4, 2, 2),
        (3, 3, 3),
        (3, 3, 3),
        (2, 4, 4),
        (2, 4, 4),
        (1, 5, 5),
        (1, 5, 5),
    ]
