"""Old outbox events go once they are published, every delivery of theirs is finished and every
after-commit reaction is past them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from loyalty import jobs
from loyalty.core.clock import FixedClock
from loyalty.core.models import OutboxEvent, ReactionReceipt, WorkerCursor
from loyalty.messaging.models import NotificationDelivery, OutboxDispatch
from loyalty.storage.database import Database


async def _event(
    db: Database,
    clock: FixedClock,
    *,
    days_ago: int,
    published: bool = True,
    dispatched: bool = True,
    delivery: str | None = "delivered",
) -> int:
    at = clock.now() - timedelta(days=days_ago)
    async with db.unit_of_work() as uow:
        event = OutboxEvent(
            topic="balance.changed",
            member_id=None,
            payload={},
            occurred_at=at,
            published_at=at if published else None,
        )
        uow.session.add(event)
        await uow.session.flush()
        if dispatched:
            uow.session.add(OutboxDispatch(event_id=event.id, dispatched_at=at))
        if delivery:
            uow.session.add(
                NotificationDelivery(
                    event_id=event.id,
                    channel="webhook",
                    target="https://crm.example/hooks",
                    kind="transactional",
                    status=delivery,
                    attempts=1,
                    next_attempt_at=at,
                    created_at=at,
                )
            )
        await uow.commit()
        return event.id


@pytest.fixture
async def db(private_database: str) -> AsyncIterator[Database]:
    """Out of reach of the shared test server, whose relay would publish the unpublished."""
    database = Database(private_database)
    try:
        yield database
    finally:
        await database.dispose()


async def test_prune_keeps_what_is_recent_or_unfinished(db: Database, clock: FixedClock) -> None:
    old_done = await _event(db, clock, days_ago=40)
    old_dead = await _event(db, clock, days_ago=40, delivery="dead")
    old_no_deliveries = await _event(db, clock, days_ago=40, delivery=None)
    old_pending = await _event(db, clock, days_ago=40, delivery="pending")
    old_unpublished = await _event(db, clock, days_ago=40, published=False)
    old_undispatched = await _event(db, clock, days_ago=40, dispatched=False, delivery=None)
    recent = await _event(db, clock, days_ago=3)

    assert await jobs.prune_outbox(db, clock.now()) == 3
    assert await jobs.prune_outbox(db, clock.now()) == 0
    async with db.unit_of_work(write=False) as uow:
        left = set(await uow.session.scalars(select(OutboxEvent.id)))
        deliveries = set(await uow.session.scalars(select(NotificationDelivery.event_id)))
        dispatched = set(await uow.session.scalars(select(OutboxDispatch.event_id)))
    assert left == {old_pending, old_unpublished, old_undispatched, recent}
    assert not {old_done, old_dead, old_no_deliveries} & (deliveries | dispatched)


async def _cursor(db: Database, clock: FixedClock, name: str, position: int) -> None:
    """Put the cursor `name` at `position`."""
    async with db.unit_of_work() as uow:
        cursor = await uow.session.get(WorkerCursor, name)
        if cursor is None:
            cursor = WorkerCursor(name=name, position=position, updated_at=clock.now())
            uow.session.add(cursor)
        cursor.position = position
        await uow.commit()


async def _left(db: Database) -> list[int]:
    async with db.unit_of_work(write=False) as uow:
        return list(await uow.session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id)))


async def test_prune_keeps_what_a_reaction_has_not_handled(db: Database, clock: FixedClock) -> None:
    first, second, third = [await _event(db, clock, days_ago=40) for _ in range(3)]
    async with db.unit_of_work() as uow:
        # `slow` handled the first and the third; a receipt alone moves no cursor.
        for event_id in (first, third):
            uow.session.add(
                ReactionReceipt(reaction="slow", event_id=event_id, done_at=clock.now())
            )
        await uow.commit()
    await _cursor(db, clock, "reaction:fast", third)
    await _cursor(db, clock, "reaction:slow", first)
    # Other consumers' cursors, such as the notification dispatcher's, hold nothing back.
    await _cursor(db, clock, "dispatch", 0)

    assert await jobs.prune_outbox(db, clock.now()) == 1
    assert await _left(db) == [second, third]
    async with db.unit_of_work(write=False) as uow:
        receipts = list(await uow.session.scalars(select(ReactionReceipt.event_id)))
    assert receipts == [third]

    await _cursor(db, clock, "reaction:slow", third)
    assert await jobs.prune_outbox(db, clock.now()) == 2
    assert await _left(db) == []
