"""The worker against real HTTP receivers on 127.0.0.1, on SQLite and PostgreSQL: fan-out
once per event, signed webhooks, retries with backoff, dead letters, leases that outlive a
dead worker, and concurrent workers that never send one delivery twice at the same time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, func, select

from loyalty.core.clock import FixedClock
from loyalty.core.models import OutboxEvent, WorkerCursor
from loyalty.messaging.models import NotificationDelivery, OutboxDispatch
from loyalty.storage.database import Database
from notifications.channels import webhooks
from notifications.worker import CURSOR_SAFETY, DISPATCH_CURSOR, Worker, requeue_dead
from tests.notifications.helpers import (
    AFTERNOON,
    SECRET,
    deliveries,
    earned,
    endpoint,
    event,
    expiring,
    inbox_of,
    install,
    make_worker,
    member,
    redeemed,
    tier_changed,
)
from tests.notifications.standin import webhook_receiver
from tests.support.data import sealed_id

HOUR = timedelta(hours=1)
# Most tests follow one kind of event; their endpoints subscribe to it alone (a "*" endpoint
# would also hear that the test's member signed up).
BALANCE = "balance.changed"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(AFTERNOON)


async def test_a_webhook_is_signed_and_carries_the_event(db: Database, clock: FixedClock) -> None:
    await install(db, clock)
    member_id = await member(db, clock)
    event_id = await event(db, clock, "balance.changed", member_id, earned(50))
    with webhook_receiver() as receiver:
        worker = make_worker(db, clock, hooks=[endpoint(receiver.url, BALANCE)])
        try:
            assert await worker.run_once() > 0
        finally:
            await worker.aclose()

    [got] = receiver.received
    assert got.path == "/hooks"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["trouw-event-id"] == str(event_id)
    assert got.headers["trouw-event-type"] == "balance.changed"
    timestamp = int(got.headers["trouw-timestamp"])
    assert timestamp == int(clock.now().timestamp())
    signature = got.headers["trouw-signature"]
    assert signature.startswith(f"t={timestamp},v1=")
    assert webhooks.verify(SECRET, signature, got.body, clock.now())
    # A receiver's checks fail for a changed body, another secret, or an old timestamp.
    assert not webhooks.verify(SECRET, signature, got.body + b" ", clock.now())
    assert not webhooks.verify("another-secret-of-16+", signature, got.body, clock.now())
    assert not webhooks.verify(SECRET, signature, got.body, clock.now() + timedelta(minutes=6))
    body = got.json
    assert body == {
        "id": event_id,
        "type": "balance.changed",
        "occurred_at": AFTERNOON.isoformat(),
        "member_id": sealed_id(f"Member:{member_id}"),
        "data": earned(50),
    }
    [hook] = await deliveries(db, "webhook")
    assert (hook.status, hook.attempts, hook.target) == ("delivered", 1, receiver.url)
    assert hook.delivered_at == clock.now()


async def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"id":1}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.signature_header(SECRET, 1700000000, body) == f"t=1700000000,v1={expected}"


async def test_endpoints_get_the_topics_they_subscribe_to(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock, devices=())
    made = [
        await event(db, clock, "balance.changed", member_id, earned()),
        await event(db, clock, "tier.changed", member_id, tier_changed("brons", "zilver")),
        await event(db, clock, "reward.redeemed", None, redeemed(3)),
    ]
    with webhook_receiver() as everything, webhook_receiver() as tiers:
        worker = make_worker(
            db, clock, hooks=[endpoint(everything.url), endpoint(tiers.url, "tier.*")]
        )
        await worker.run_once()
        await worker.aclose()
    assert sorted(b["type"] for b in everything.bodies() if b["id"] in made) == [
        "balance.changed",
        "reward.redeemed",
        "tier.changed",
    ]
    # "*" is every event there is, the member's signing up included.
    async with db.unit_of_work(write=False) as uow:
        every = set(await uow.session.scalars(select(OutboxEvent.id)))
    assert sorted(b["id"] for b in everything.bodies()) == sorted(every)
    assert [b["type"] for b in tiers.bodies()] == ["tier.changed"]
    # An event without a member says so.
    [redeemed_body] = [b for b in everything.bodies() if b["type"] == "reward.redeemed"]
    assert redeemed_body["member_id"] is None


async def test_fan_out_is_once_per_event_even_when_repeated(
    db: Database, clock: FixedClock
) -> None:
    member_id = await member(db, clock)
    with webhook_receiver() as receiver:
        worker = make_worker(db, clock, hooks=[endpoint(receiver.url, "points.expiring")])
        await worker.dispatch()  # the member's signing up
        expiry = await event(db, clock, "points.expiring", member_id, expiring())
        assert await worker.dispatch() == 1
        assert await worker.dispatch() == 0
        planned = [(d.channel, d.target) for d in await deliveries(db)]
        assert sorted(c for c, _ in planned) == ["inbox", "push", "webhook"]
        # Even if the dispatch mark were lost, a second fan-out adds nothing.
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                delete(OutboxDispatch).where(OutboxDispatch.event_id == expiry)
            )
            await uow.commit()
        assert await worker.dispatch() == 1
        assert [(d.channel, d.target) for d in await deliveries(db)] == planned
        assert len(await inbox_of(db, member_id)) == 1
        await worker.aclose()


async def test_a_failing_endpoint_is_retried_with_backoff_until_it_answers(
    db: Database, clock: FixedClock
) -> None:
    member_id = await member(db, clock, devices=())
    event_id = await event(db, clock, "balance.changed", member_id, earned())
    with webhook_receiver(answers=[500, 503, 200]) as receiver:
        worker = make_worker(db, clock, hooks=[endpoint(receiver.url, BALANCE)])
        await worker.run_once()
        [hook] = await deliveries(db, "webhook")
        assert (hook.status, hook.attempts, hook.last_error) == ("pending", 1, "HTTP 500")
        # The first retry waits about 5 s (between half and all of it: jitter).
        wait = hook.next_attempt_at - clock.now()
        assert timedelta(seconds=2.5) <= wait <= timedelta(seconds=5)
        assert await worker.run_once() == 0  # not due yet
        assert len(receiver.received) == 1

        clock.advance(HOUR)
        await worker.run_once()
        [hook] = await deliveries(db, "webhook")
        assert (hook.status, hook.attempts, hook.last_error) == ("pending", 2, "HTTP 503")
        wait = hook.next_attempt_at - clock.now()
        assert timedelta(seconds=5) <= wait <= timedelta(seconds=10)

        clock.advance(HOUR)
        await worker.run_once()
        [hook] = await deliveries(db, "webhook")
        assert (hook.status, hook.attempts, hook.last_error) == ("delivered", 3, None)
        await worker.aclose()
    # Every attempt is the same event: same id, same data; each is signed afresh.
    assert receiver.event_ids() == [str(event_id)] * 3
    assert len({r.json["data"]["entry_id"] for r in receiver.received}) == 1
    assert len({r.headers["trouw-timestamp"] for r in receiver.received}) == 3


async def test_backoff_grows_exponentially_to_its_cap(db: Database, clock: FixedClock) -> None:
    worker = make_worker(db, clock)
    for attempts, most in [(1, 5), (2, 10), (3, 20), (8, 640), (12, 3600), (60, 3600)]:
        waits = [worker.backoff(attempts).total_seconds() for _ in range(50)]
        assert all(most / 2 <= w <= most for w in waits), (attempts, waits)
        assert len(set(waits)) > 1  # jittered


async def test_after_the_last_attempt_a_delivery_is_dead(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock, devices=())
    await event(db, clock, "balance.changed", member_id, earned())
    with webhook_receiver(answers=[500]) as receiver:
        from notifications.config import Retry

        worker = make_worker(
            db, clock, hooks=[endpoint(receiver.url, BALANCE)], retry=Retry(max_attempts=4)
        )
        for _ in range(8):
            await worker.run_once()
            clock.advance(HOUR)
        [hook] = await deliveries(db, "webhook")
        assert (hook.status, hook.attempts, hook.last_error) == ("dead", 4, "HTTP 500")
        assert len(receiver.received) == 4

        # An operator requeues it once the receiver is fixed.
        receiver.answers[:] = [200]
        assert await requeue_dead(db, clock) == 1
        await worker.run_once()
        [hook] = await deliveries(db, "webhook")
        assert (hook.status, hook.attempts) == ("delivered", 1)
        await worker.aclose()


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (410, "dead"),
        (400, "dead"),
        (401, "dead"),
        (404, "dead"),
        (301, "dead"),
        (408, "pending"),
        (429, "pending"),
        (502, "pending"),
        (204, "delivered"),
    ],
)
async def test_answers_decide_between_retry_and_dead_letter(
    db: Database, clock: FixedClock, status: int, outcome: str
) -> None:
    member_id = await member(db, clock, devices=())
    await event(db, clock, "balance.changed", member_id, earned())
    with webhook_receiver(answers=[status]) as receiver:
        worker = make_worker(db, clock, hooks=[endpoint(receiver.url, BALANCE)])
        await worker.run_once()
        await worker.aclose()
    [hook] = await deliveries(db, "webhook")
    assert hook.status == outcome
    assert hook.attempts == 1


async def test_retry_after_is_honoured(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock, devices=())
    await event(db, clock, "balance.changed", member_id, earned())
    worker = make_worker(db, clock, hooks=[endpoint("http://127.0.0.1:9/hooks", BALANCE)])
    await worker.dispatch()
    [claim] = await worker.claim()
    response = httpx.Response(429, headers={"Retry-After": "120"})
    await worker.record(claim, webhooks.outcome_of(response, clock.now()))
    [hook] = await deliveries(db, "webhook")
    assert hook.next_attempt_at == clock.now() + timedelta(seconds=120)


async def test_a_slow_endpoint_times_out_and_is_retried(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock, devices=())
    await event(db, clock, "balance.changed", member_id, earned())
    with webhook_receiver(delay=2.0) as receiver:
        worker = make_worker(
            db, clock, hooks=[endpoint(receiver.url, BALANCE)], webhook_timeout=0.3
        )
        await worker.run_once()
        await worker.aclose()
    [hook] = await deliveries(db, "webhook")
    assert (hook.status, hook.last_error) == ("pending", "timeout")


async def test_unreachable_endpoint_is_retried(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock, devices=())
    await event(db, clock, "balance.changed", member_id, earned())
    with webhook_receiver() as receiver:
        url = receiver.url
    # The receiver is gone now: connection refused.
    worker = make_worker(db, clock, hooks=[endpoint(url, BALANCE)])
    await worker.run_once()
    await worker.aclose()
    [hook] = await deliveries(db, "webhook")
    assert hook.status == "pending"
    assert "ConnectError" in (hook.last_error or "")


async def test_a_removed_endpoint_gets_nothing_more(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock, devices=())
    await event(db, clock, "balance.changed", member_id, earned())
    first = make_worker(db, clock, hooks=[endpoint("http://127.0.0.1:9/old", BALANCE)])
    await first.dispatch()
    later = make_worker(db, clock)  # restarted without that endpoint
    await later.run_once()
    [hook] = await deliveries(db, "webhook")
    assert (hook.status, hook.last_error) == ("failed", "endpoint_removed")


async def test_a_worker_that_dies_after_claiming_is_replaced_after_its_lease(
    db: Database, clock: FixedClock
) -> None:
    member_id = await member(db, clock, devices=())
    event_id = await event(db, clock, "balance.changed", member_id, earned())
    with webhook_receiver() as receiver:
        hooks = [endpoint(receiver.url, BALANCE)]
        doomed = make_worker(db, clock, hooks=hooks)
        await doomed.dispatch()
        claims = await doomed.claim()
        assert len(claims) == 1
        del doomed  # dies without sending or recording anything

        survivor = make_worker(db, clock, hooks=hooks)
        assert await survivor.run_once() == 0  # leased to the dead worker
        clock.advance(survivor.config.lease + timedelta(seconds=1))
        assert await survivor.run_once() == 1
        await survivor.aclose()
    assert receiver.event_ids() == [str(event_id)]
    [hook] = await deliveries(db, "webhook")
    # The lost attempt counts: a worker that keeps dying on one delivery dead-letters it.
    assert (hook.status, hook.attempts) == ("delivered", 2)


async def test_a_delivery_whose_workers_keep_dying_is_dead_lettered(
    db: Database, clock: FixedClock
) -> None:
    from notifications.config import Retry

    member_id = await member(db, clock, devices=())
    await event(db, clock, "balance.changed", member_id, earned())
    worker = make_worker(
        db, clock, hooks=[endpoint("http://127.0.0.1:9/", BALANCE)], retry=Retry(max_attempts=3)
    )
    await worker.dispatch()
    for _ in range(3):
        assert len(await worker.claim()) == 1  # and the worker dies
        clock.advance(worker.config.lease + timedelta(seconds=1))
    assert await worker.claim() == []
    [hook] = await deliveries(db, "webhook")
    assert (hook.status, hook.attempts) == ("dead", 3)
    assert "workers lost" in (hook.last_error or "")


async def test_a_worker_killed_mid_request_leaves_a_duplicate_with_the_same_event_id(
    db: Database, clock: FixedClock
) -> None:
    import threading

    member_id = await member(db, clock, devices=())
    ids = [await event(db, clock, "balance.changed", member_id, earned(i)) for i in (1, 2, 3)]
    gate = threading.Event()
    with webhook_receiver(gate=gate) as receiver:
        hooks = [endpoint(receiver.url, BALANCE)]
        doomed = make_worker(db, clock, hooks=hooks)
        task = asyncio.create_task(doomed.run_once())
        await asyncio.to_thread(receiver.arrived.wait, 10)
        await asyncio.sleep(0.2)  # let all three requests arrive
        task.cancel()  # killed while its requests are in flight
        with pytest.raises(asyncio.CancelledError):
            await task
        await doomed.aclose()
        gate.set()
        assert sorted(receiver.event_ids()) == sorted(str(i) for i in ids)

        survivor = make_worker(db, clock, hooks=hooks)
        clock.advance(survivor.config.lease + timedelta(seconds=1))
        await survivor.run_once()
        await survivor.aclose()
    assert all(d.status == "delivered" for d in await deliveries(db, "webhook"))
    # Each event arrived twice, and both copies carry the same event id and data.
    assert sorted(receiver.event_ids()) == sorted(str(i) for i in ids * 2)
    for event_id in ids:
        copies = [r.json for r in receiver.received if r.event_id == str(event_id)]
        assert len(copies) == 2 and copies[0] == copies[1]


async def test_a_late_answer_cannot_overwrite_what_the_next_worker_recorded(
    db: Database, clock: FixedClock
) -> None:
    from notifications.channels import Delivery

    member_id = await member(db, clock, devices=())
    await event(db, clock, "balance.changed", member_id, earned())
    with webhook_receiver() as receiver:
        hooks = [endpoint(receiver.url, BALANCE)]
        slow = make_worker(db, clock, hooks=hooks)
        await slow.dispatch()
        [late] = await slow.claim()
        clock.advance(slow.config.lease + timedelta(seconds=1))
        fast = make_worker(db, clock, hooks=hooks)
        await fast.run_once()
        await fast.aclose()
    assert not await slow.record(late, Delivery.retry("HTTP 500"))
    [hook] = await deliveries(db, "webhook")
    assert hook.status == "delivered"


async def test_concurrent_workers_never_send_one_delivery_twice(
    database_url: str, db: Database, clock: FixedClock
) -> None:
    """Several workers (each with its own connection pool, as separate processes have) drain
    one outbox: every event reaches the receiver exactly once, never two at a time."""
    member_id = await member(db, clock, devices=())
    ids = [await event(db, clock, "balance.changed", member_id, earned(i)) for i in range(40)]
    with webhook_receiver(delay=0.02) as receiver:
        hooks = [endpoint(receiver.url, BALANCE)]
        pools = [Database(database_url) for _ in range(3)]
        workers = [make_worker(p, clock, hooks=hooks, batch_size=4) for p in pools]

        claimed = [0] * len(workers)

        async def drain(n: int, worker: Worker) -> None:
            for _ in range(200):
                await worker.dispatch()
                claims = await worker.claim()
                claimed[n] += len(claims)
                await worker.deliver(claims)
                remaining = [d for d in await deliveries(db, "webhook") if d.status != "delivered"]
                if len(await deliveries(db, "webhook")) == len(ids) and not remaining:
                    return
                await asyncio.sleep(0.01)

        try:
            await asyncio.gather(*(drain(n, w) for n, w in enumerate(workers)))
        finally:
            for w, p in zip(workers, pools, strict=True):
                await w.aclose()
                await p.dispose()
    assert sorted(receiver.event_ids(), key=int) == [str(i) for i in ids]
    assert receiver.max_in_flight_per_event == 1
    # The work was shared, and no delivery was claimed twice.
    assert sum(claimed) == len(ids)
    assert sum(1 for c in claimed if c) >= 2, claimed
    assert all(d.attempts == 1 for d in await deliveries(db, "webhook"))


async def test_fan_out_skips_nothing_committed_late_and_the_cursor_moves_on(
    db: Database, clock: FixedClock
) -> None:
    """An event id below others already dispatched (a transaction that committed late) is
    still found; the cursor that bounds the scan only passes ids known to be final."""
    member_id = await member(db, clock, devices=())
    worker = make_worker(db, clock)
    signed_up = await worker.dispatch()  # the member's signing up
    first = [await event(db, clock, "balance.changed", member_id, earned()) for _ in range(3)]
    async with db.unit_of_work() as uow:
        uow.session.add(
            OutboxEvent(
                id=first[-1] + 10,
                topic="balance.changed",
                member_id=member_id,
                payload=earned(),
                occurred_at=clock.now(),
            )
        )
        await uow.commit()
    assert await worker.dispatch() == 4

    # A writer that had taken id first+5 before the others commits only now.
    async with db.unit_of_work() as uow:
        uow.session.add(
            OutboxEvent(
                id=first[-1] + 5,
                topic="balance.changed",
                member_id=member_id,
                payload=earned(),
                occurred_at=clock.now(),
            )
        )
        await uow.commit()
    assert await worker.dispatch() == 1

    async def cursor() -> int | None:
        async with db.unit_of_work(write=False) as uow:
            return await uow.session.scalar(
                select(WorkerCursor.position).where(WorkerCursor.name == DISPATCH_CURSOR)
            )

    assert await cursor() is None  # nothing is final yet
    clock.advance(CURSOR_SAFETY)
    await event(db, clock, "balance.changed", member_id, earned())
    assert await worker.dispatch() == 1
    assert await cursor() == first[-1] + 10
    async with db.unit_of_work(write=False) as uow:
        dispatched = await uow.session.scalar(select(func.count()).select_from(OutboxDispatch))
    assert dispatched == signed_up + 6


async def test_an_event_this_worker_cannot_read_waits_for_one_that_can(
    db: Database, clock: FixedClock
) -> None:
    """An event written by a newer Trouw (a version this one has no reader for) is neither
    dispatched nor lost: it stays for a worker that reads it, and the others go ahead."""
    member_id = await member(db, clock, devices=())
    worker = make_worker(db, clock, hooks=[endpoint("http://127.0.0.1:9/", BALANCE)])
    await worker.dispatch()  # the member's signing up
    async with db.unit_of_work() as uow:
        newer = OutboxEvent(
            topic="balance.changed",
            version=99,
            member_id=member_id,
            payload=earned(),
            occurred_at=clock.now(),
        )
        uow.session.add(newer)
        await uow.commit()
    readable = await event(db, clock, "balance.changed", member_id, earned())
    assert await worker.dispatch() == 1
    assert [d.event_id for d in await deliveries(db, "webhook")] == [readable]
    assert await worker.dispatch() == 0
    async with db.unit_of_work(write=False) as uow:
        marks = set(await uow.session.scalars(select(OutboxDispatch.event_id)))
    assert readable in marks and newer.id not in marks


async def test_a_delivery_of_an_event_this_worker_cannot_read_is_left_for_another(
    db: Database, clock: FixedClock
) -> None:
    from sqlalchemy import update

    member_id = await member(db, clock, devices=())
    event_id = await event(db, clock, "balance.changed", member_id, earned())
    worker = make_worker(db, clock, hooks=[endpoint("http://127.0.0.1:9/", BALANCE)])
    await worker.dispatch()
    async with db.unit_of_work() as uow:  # as if a newer Trouw had written it
        await uow.session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event_id).values(version=99)
        )
        await uow.commit()
    assert await worker.claim() == []
    [hook] = await deliveries(db, "webhook")
    assert (hook.status, hook.attempts, hook.last_error) == ("pending", 0, "event_unreadable")
    assert hook.next_attempt_at == clock.now() + worker.config.lease


async def test_run_stops_when_told(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock, devices=())
    await event(db, clock, "balance.changed", member_id, earned())
    with webhook_receiver() as receiver:
        worker = make_worker(db, clock, hooks=[endpoint(receiver.url, BALANCE)])
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run(stop, interval=0.05))
        await asyncio.to_thread(receiver.arrived.wait, 10)
        for _ in range(100):
            if (await deliveries(db, "webhook"))[0].status == "delivered":
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(runner, 5)
        await worker.aclose()
    assert [d.status for d in await deliveries(db, "webhook")] == ["delivered"]


async def test_deliveries_are_unique_per_event_channel_and_target(
    db: Database, clock: FixedClock
) -> None:
    from sqlalchemy.exc import IntegrityError

    member_id = await member(db, clock, devices=())
    event_id = await event(db, clock, "balance.changed", member_id, earned())
    row = {
        "event_id": event_id,
        "channel": "webhook",
        "target": "http://x/",
        "kind": "transactional",
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": clock.now(),
        "created_at": clock.now(),
    }
    async with db.unit_of_work() as uow:
        uow.session.add(NotificationDelivery(**row))
        await uow.commit()
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as uow:
            uow.session.add(NotificationDelivery(**row))
            await uow.commit()
