"""The event bus on its own: channels, order, slow consumers, Redis between processes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from notifications.bus import (
    PROGRAMME_CHANNEL,
    QUEUE_SIZE,
    BusMessage,
    InProcessBus,
    Overflowed,
    RedisBus,
)


def message(event_id: int, member_id: int = 1, topic: str = "balance.changed") -> BusMessage:
    return BusMessage(event_id, topic, member_id, "2026-11-23T10:00:00+00:00", {"n": event_id})


async def next_of(subscription_iter, timeout: float = 2.0) -> BusMessage:  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(subscription_iter.__anext__(), timeout)


async def test_in_process_bus_keeps_members_apart_and_in_order() -> None:
    bus = InProcessBus()
    mine, theirs = bus.subscribe("member:1"), bus.subscribe("member:2")
    assert mine.ready.is_set()
    for i in range(1, 4):
        await bus.publish(message(i, member_id=1))
    await bus.publish(message(9, member_id=2))
    it = aiter(mine)
    assert [(await next_of(it)).event_id for _ in range(3)] == [1, 2, 3]
    assert (await next_of(aiter(theirs))).event_id == 9
    mine.close()
    theirs.close()
    assert bus.channels == []


async def test_a_slow_subscriber_is_cut_off_not_the_others() -> None:
    bus = InProcessBus()
    slow, fast = bus.subscribe("member:1"), bus.subscribe("member:1")
    it = aiter(fast)
    for i in range(QUEUE_SIZE + 1):
        await bus.publish(message(i))
        await next_of(it)
    with pytest.raises(Overflowed):
        async for _ in slow:
            pass
    await bus.publish(message(10_000))
    assert (await next_of(it)).event_id == 10_000


async def test_redis_carries_messages_between_buses(redis_url: str) -> None:
    prefix = f"trouw-test-{uuid.uuid4().hex[:8]}:"
    sender, receiver = RedisBus(redis_url, prefix), RedisBus(redis_url, prefix)
    await sender.start()
    await receiver.start()
    try:
        subscription = receiver.subscribe("member:5")
        await asyncio.wait_for(subscription.ready.wait(), 5)
        late = receiver.subscribe("member:5")
        assert late.ready.is_set()  # the channel is already live
        await sender.publish(message(41, member_id=5))
        await sender.publish(message(42, member_id=6))  # nobody listens there
        await sender.publish(message(43, member_id=5))
        it = aiter(subscription)
        got = [await next_of(it), await next_of(it)]
        assert [m.event_id for m in got] == [41, 43]
        assert got[0].payload == {"n": 41} and got[0].channel == "member:5"
    finally:
        await sender.close()
        await receiver.close()


async def test_one_subscription_hears_its_member_and_the_programme(redis_url: str) -> None:
    """A subscriber of two channels gets both in publication order, through Redis too; it is
    ready once both are live, and closing it closes both channels."""
    prefix = f"trouw-test-{uuid.uuid4().hex[:8]}:"
    sender, receiver = RedisBus(redis_url, prefix), RedisBus(redis_url, prefix)
    await sender.start()
    await receiver.start()
    try:
        both = receiver.subscribe("member:5", PROGRAMME_CHANNEL)
        await asyncio.wait_for(both.ready.wait(), 5)
        await sender.publish(message(51, member_id=5))
        await sender.publish(BusMessage(52, "offer.granted", None, "2026-11-23T10:00:00+00:00", {}))
        await sender.publish(message(53, member_id=6))  # another member's
        await sender.publish(message(54, member_id=5))
        it = aiter(both)
        assert [(await next_of(it)).event_id for _ in range(3)] == [51, 52, 54]
        both.close()
        assert receiver.channels == []
    finally:
        await sender.close()
        await receiver.close()


async def test_a_listener_is_called_as_messages_are_published_and_not_after_closing() -> None:
    bus = InProcessBus()
    heard: list[int] = []
    listener = bus.listen(lambda m: heard.append(m.event_id), "member:1", PROGRAMME_CHANNEL)
    assert listener.ready.is_set()
    await bus.publish(message(1, member_id=1))
    await bus.publish(message(2, member_id=2))
    await bus.publish(BusMessage(3, "offer.granted", None, "", {}))
    assert heard == [1, 3]  # at once, without a task
    listener.close()
    await bus.publish(message(4, member_id=1))
    assert heard == [1, 3] and bus.channels == []


async def test_a_failing_listener_does_not_keep_a_message_from_the_others() -> None:
    bus = InProcessBus()
    heard: list[int] = []

    def broken(_: BusMessage) -> None:
        raise RuntimeError("a bug in one subscriber")

    bus.listen(broken, "member:1")
    bus.listen(lambda m: heard.append(m.event_id), "member:1")
    await bus.publish(message(1, member_id=1))
    assert heard == [1]
