"""Reactions: in-transaction handlers run once per event and commit or roll back with the
change; after-commit handlers run once per event id from the outbox; the sign-up and
profile-completed bonuses reach every entry path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.wiring import build_reactions, wire_database
from loyalty.auth.service import SignUpInput
from loyalty.core.clock import FixedClock
from loyalty.core.events import (
    ActivityRecorded,
    Event,
    MemberSignedUp,
    OfferChanged,
    PurchaseRecorded,
    Recorded,
)
from loyalty.core.models import OutboxEvent, ReactionReceipt
from loyalty.core.outbox import emit
from loyalty.core.reactions import ReactionRunner, Reactions
from loyalty.demo.data import load_demo
from loyalty.members.service import ProfileInput, ProfileService
from loyalty.messaging.models import InboxMessage
from loyalty.points.models import MemberEvent, Purchase
from loyalty.points.service import MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database
from tests.loyalty.services import add_member, cheap_hasher, make_auth

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
  rules:
    - key: welkom
      kind: event
      event: sign_up
      points: 100
    - key: profiel
      kind: event
      event: profile_completed
      points: 40
"""


async def _install(db: Database, clock: FixedClock) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(PROGRAMME), clock.now())
        await uow.commit()


async def _note(s: AsyncSession, member_id: int | None, title: str, at: datetime) -> None:
    """A visible effect of a reaction: an inbox row (no event id, so nothing dedupes it)."""
    assert member_id is not None
    s.add(InboxMessage(member_id=member_id, title=title, body="", created_at=at))


async def _titles(db: Database) -> list[str]:
    async with db.unit_of_work(write=False) as uow:
        return sorted(await uow.session.scalars(select(InboxMessage.title)))


async def _count(db: Database, column: object, *where: object) -> int:
    async with db.unit_of_work(write=False) as uow:
        return int(await uow.session.scalar(select(func.count(column)).where(*where)) or 0)


@pytest.fixture
async def wired(
    clean_database: str,
) -> AsyncIterator[Callable[[Callable[[Reactions], None]], Awaitable[Database]]]:
    """A database whose units of work run every area's reactions plus the test's own."""
    opened: list[Database] = []

    async def make(extra: Callable[[Reactions], None]) -> Database:
        reactions = build_reactions()
        extra(reactions)
        db = Database(clean_database)
        wire_database(db, reactions)
        opened.append(db)
        return db

    yield make
    for db in opened:
        await db.dispose()


def _only(reactions: Reactions, name: str) -> Reactions:
    """The after-commit reaction `name` alone (the areas have after-commit reactions of their
    own, such as segments', which these tests do not count)."""
    alone = Reactions()
    alone.after_commit = [r for r in reactions.after_commit if r.name == name]
    return alone


def _purchase(member_id: int, external_id: str) -> PurchaseInput:
    return PurchaseInput(
        MemberRef(member_id=member_id),
        external_id,
        [PurchaseLine("koffie", Decimal(1), Decimal("12.50"))],
    )


async def test_an_in_transaction_reaction_runs_once_per_purchase(
    wired: Callable[[Callable[[Reactions], None]], Awaitable[Database]], clock: FixedClock
) -> None:
    async def noted(s: AsyncSession, event: PurchaseRecorded, at: datetime) -> None:
        await _note(s, event.member_id, f"purchase {event.external_id}", at)

    db = await wired(lambda r: r.in_transaction(PurchaseRecorded, noted))
    await _install(db, clock)
    anna = await add_member(db, clock)
    points = PointsService(db, clock)
    for external_id in ("p1", "p2", "p1", "p3", "p2"):
        await points.record_purchase(_purchase(anna.id, external_id))
    assert await _titles(db) == ["purchase p1", "purchase p2", "purchase p3"]


async def test_concurrent_retries_of_one_purchase_react_once(
    wired: Callable[[Callable[[Reactions], None]], Awaitable[Database]], clock: FixedClock
) -> None:
    calls: list[str] = []

    async def noted(s: AsyncSession, event: PurchaseRecorded, at: datetime) -> None:
        calls.append(event.external_id)
        await _note(s, event.member_id, f"purchase {event.external_id}", at)

    db = await wired(lambda r: r.in_transaction(PurchaseRecorded, noted))
    await _install(db, clock)
    anna = await add_member(db, clock)
    points = PointsService(db, clock)
    results = await asyncio.gather(
        *(points.record_purchase(_purchase(anna.id, "till-1")) for _ in range(12)),
        *(points.record_purchase(_purchase(anna.id, f"other-{i}")) for i in range(3)),
    )
    assert sum(not r.replayed for r in results) == 4
    assert await _titles(db) == [
        "purchase other-0",
        "purchase other-1",
        "purchase other-2",
        "purchase till-1",
    ]
    assert await _count(db, Purchase.id) == 4
    # A retry is answered from the first purchase: the reaction never ran for it at all.
    assert sorted(calls) == ["other-0", "other-1", "other-2", "till-1"]


async def test_a_failing_reaction_rolls_back_the_change(
    wired: Callable[[Callable[[Reactions], None]], Awaitable[Database]], clock: FixedClock
) -> None:
    async def broken(s: AsyncSession, event: PurchaseRecorded, at: datetime) -> None:
        raise RuntimeError("reaction failed")

    db = await wired(lambda r: r.in_transaction(PurchaseRecorded, broken))
    await _install(db, clock)
    anna = await add_member(db, clock)
    before = await _count(db, OutboxEvent.id)
    with pytest.raises(RuntimeError):
        await PointsService(db, clock).record_purchase(_purchase(anna.id, "p1"))
    assert await _count(db, Purchase.id) == 0
    assert await _count(db, OutboxEvent.id) == before


async def test_events_emitted_by_reactions_are_handled_in_the_same_transaction(
    wired: Callable[[Callable[[Reactions], None]], Awaitable[Database]], clock: FixedClock
) -> None:
    async def grant(s: AsyncSession, event: PurchaseRecorded, at: datetime) -> None:
        emit(s, OfferChanged(member_id=event.member_id, change="granted", offer={"id": 1}), at)

    async def noted(s: AsyncSession, event: OfferChanged, at: datetime) -> None:
        await _note(s, event.member_id, f"offer {event.change}", at)

    def register(r: Reactions) -> None:
        r.in_transaction(PurchaseRecorded, grant)
        r.in_transaction(OfferChanged, noted)

    db = await wired(register)
    await _install(db, clock)
    anna = await add_member(db, clock)
    await PointsService(db, clock).record_purchase(_purchase(anna.id, "p1"))
    assert await _titles(db) == ["offer granted"]
    assert await _count(db, OutboxEvent.id, OutboxEvent.topic == OfferChanged.name) == 1


async def test_reactions_that_keep_emitting_are_stopped(
    wired: Callable[[Callable[[Reactions], None]], Awaitable[Database]], clock: FixedClock
) -> None:
    async def again(s: AsyncSession, event: OfferChanged, at: datetime) -> None:
        emit(s, OfferChanged(member_id=event.member_id, change="updated", offer={}), at)

    db = await wired(lambda r: r.in_transaction(OfferChanged, again))
    await _install(db, clock)
    anna = await add_member(db, clock)
    with pytest.raises(RuntimeError, match="loop"):
        async with db.unit_of_work() as uow:
            changed = OfferChanged(member_id=anna.id, change="granted", offer={})
            emit(uow.session, changed, clock.now())
            await uow.commit()
    assert await _count(db, OutboxEvent.id, OutboxEvent.topic == OfferChanged.name) == 0


# -- the joining bonuses on every entry path --------------------------------------------------


async def _bonuses(db: Database, member_id: int) -> list[tuple[str, int]]:
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.execute(
            select(MemberEvent.name, MemberEvent.points_awarded)
            .where(MemberEvent.member_id == member_id)
            .order_by(MemberEvent.id)
        )
        return [(name, points) for name, points in rows]


async def test_signing_up_in_the_app_earns_the_bonus_once(db: Database, clock: FixedClock) -> None:
    await _install(db, clock)
    auth = make_auth(db, clock)
    member, _ = await auth.sign_up(SignUpInput("anna@example.com", "lantaarnpaal-fietsbel-42"))
    assert await _bonuses(db, member.id) == [("sign_up", 100)]


async def test_the_identity_provider_path_earns_the_bonus_once(
    db: Database, clock: FixedClock
) -> None:
    await _install(db, clock)
    auth = make_auth(db, clock)
    first = await auth.member_for_subject("idp|42", "anna@example.com", True)
    again = await auth.member_for_subject("idp|42", "anna@example.com", True)
    assert first.member_id == again.member_id
    assert await _bonuses(db, first.member_id) == [("sign_up", 100)]


async def test_the_demo_loader_earns_each_member_the_bonus_once(
    db: Database, clock: FixedClock
) -> None:
    await load_demo(db, clock, cheap_hasher())
    sign_ups = await _count(db, MemberEvent.id, MemberEvent.name == "sign_up")
    members = await _count(db, OutboxEvent.id, OutboxEvent.topic == MemberSignedUp.name)
    assert sign_ups == members > 0
    async with db.unit_of_work(write=False) as uow:
        awarded = list(
            await uow.session.scalars(
                select(MemberEvent.points_awarded).where(MemberEvent.name == "sign_up")
            )
        )
    assert all(points > 0 for points in awarded)


async def test_completing_the_profile_earns_its_bonus_once(db: Database, clock: FixedClock) -> None:
    await _install(db, clock)
    anna = await add_member(db, clock)
    profiles = ProfileService(db, clock)
    full = ProfileInput(
        first_name="Anna", last_name="de Vries", birth_date=date(1990, 5, 1), phone="0612345678"
    )
    await profiles.update(anna.id, full)
    await profiles.update(anna.id, ProfileInput(phone=None))
    await profiles.update(anna.id, ProfileInput(phone="0612345679"))
    assert await _bonuses(db, anna.id) == [("sign_up", 100), ("profile_completed", 40)]


# -- after commit -----------------------------------------------------------------------------


async def test_an_after_commit_reaction_runs_once_per_event_across_runners(
    wired: Callable[[Callable[[Reactions], None]], Awaitable[Database]], clock: FixedClock
) -> None:
    async def noted(s: AsyncSession, recorded: Recorded[Event]) -> None:
        event = recorded.event
        assert isinstance(event, ActivityRecorded | PurchaseRecorded)
        await _note(s, event.member_id, f"{event.name} {recorded.id}", recorded.occurred_at)

    reactions_seen: list[Reactions] = []

    def register(r: Reactions) -> None:
        r.on_commit("test.noted", [PurchaseRecorded, ActivityRecorded], noted)
        reactions_seen.append(r)

    db = await wired(register)
    await _install(db, clock)
    anna = await add_member(db, clock)
    points = PointsService(db, clock)
    for i in range(5):
        await points.record_purchase(_purchase(anna.id, f"p{i}"))
    noted_only = _only(reactions_seen[0], "test.noted")
    runners = [ReactionRunner(db, noted_only, clock, batch=2) for _ in range(3)]
    while sum(await asyncio.gather(*(r.run_once() for r in runners))):
        pass
    titles = await _titles(db)
    assert len(titles) == len(set(titles)) == 6  # five purchases and the sign-up activity
    assert await _count(db, ReactionReceipt.event_id, ReactionReceipt.reaction == "test.noted") == 6


async def test_a_failing_after_commit_reaction_is_retried_and_blocks_nothing(
    wired: Callable[[Callable[[Reactions], None]], Awaitable[Database]], clock: FixedClock
) -> None:
    failures = {"p1": 2}

    async def flaky(s: AsyncSession, recorded: Recorded[Event]) -> None:
        event = recorded.event
        assert isinstance(event, PurchaseRecorded)
        await _note(s, event.member_id, event.external_id, recorded.occurred_at)
        if failures.get(event.external_id, 0) > 0:
            failures[event.external_id] -= 1
            raise RuntimeError("not yet")

    holder: list[Reactions] = []

    def register(r: Reactions) -> None:
        r.on_commit("test.flaky", [PurchaseRecorded], flaky)
        holder.append(r)

    db = await wired(register)
    await _install(db, clock)
    anna = await add_member(db, clock)
    points = PointsService(db, clock)
    for i in range(3):
        await points.record_purchase(_purchase(anna.id, f"p{i}"))
    runner = ReactionRunner(db, _only(holder[0], "test.flaky"), clock)
    assert await runner.run_once() == 2
    assert await _titles(db) == ["p0", "p2"]
    assert await runner.run_once() == 0
    assert await runner.run_once() == 1
    assert await _titles(db) == ["p0", "p1", "p2"]
    assert await runner.run_once() == 0
