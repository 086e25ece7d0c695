"""The event bus: committed outbox events, fanned out to whoever listens in this process.

Two backends behind one interface. `InProcessBus` delivers to subscribers of the same process
(the default). `RedisBus` publishes through Redis pub/sub, so a change made through one
`trouw serve` process reaches subscribers connected to another. Either way a process holds one
local queue per subscriber, and RedisBus one Redis connection for all of them.

Delivery is at most once per subscriber and connection; clients that reconnect catch up from
the outbox by cursor, so nothing is lost for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from loyalty.core.events import Event, event_type

log = logging.getLogger("trouw.bus")
QUEUE_SIZE = 256
# Messages the Redis bus publishes per round trip.
PIPELINE = 500
L = TypeVar("L", bound="Listener")


@dataclass(frozen=True)
class BusMessage:
    """An outbox event on the bus. On the wire (Redis) it is these fields as JSON: `topic` is
    the event's name and `payload` its payload in the current version of its type (the relay
    brings older ones up to date), so `event()` can read it."""

    event_id: int
    topic: str
    member_id: int | None
    occurred_at: str
    payload: dict[str, Any]

    @property
    def channel(self) -> str:
        return member_channel(self.member_id) if self.member_id is not None else PROGRAMME_CHANNEL

    def is_a(self, kind: type[Event]) -> bool:
        return self.topic == kind.name

    def event(self) -> Event:
        """The typed event; raises `loyalty.core.events.UnknownEvent` for a message that is
        not one (such as the RESYNC marker)."""
        kind = event_type(self.topic)
        return kind.from_payload(self.member_id, self.payload, kind.version)


# Delivered to every local subscriber after the bus was away: what was published meanwhile
# never reached this process, so subscribers look it up in the outbox.
RESYNC = "_resync"


# Events about no one member in particular (`member_id` None), such as an offer made for all.
PROGRAMME_CHANNEL = "programme"


def member_channel(member_id: int) -> str:
    return f"member:{member_id}"


class Overflowed(Exception):
    """A subscriber fell too far behind; it should reconnect and catch up by cursor."""


class Listener:
    """One subscriber's place on the bus: `deliver` is called with each message of its
    channels, in publication order, as it is published (it must not block or raise)."""

    __slots__ = ("_fanout", "_not_live", "channels", "deliver", "ready")

    def __init__(
        self,
        fanout: _Fanout,
        channels: tuple[str, ...],
        deliver: Callable[[BusMessage], None],
    ) -> None:
        self.channels = channels
        self.deliver = deliver
        self._fanout = fanout
        # Set once messages published from now on, on every channel, will reach this subscriber.
        self.ready = asyncio.Event()
        self._not_live = set(channels)

    @property
    def channel(self) -> str:
        return self.channels[0]

    def _live(self, channel: str) -> None:
        self._not_live.discard(channel)
        if not self._not_live:
            self.ready.set()

    def _offer(self, message: BusMessage) -> None:
        self.deliver(message)

    def close(self) -> None:
        self._fanout._drop(self)


class Subscription(Listener):
    """What one subscriber receives, in publication order, as an async iterator."""

    __slots__ = ("_queue", "overflowed")

    def __init__(self, fanout: _Fanout, channels: tuple[str, ...]) -> None:
        super().__init__(fanout, channels, self._put)
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def _put(self, message: BusMessage) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            # Too far behind: drop what is queued and end the stream; the client resumes
            # from its cursor, which the outbox can serve.
            self.overflowed = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self.close()

    def close(self) -> None:
        super().close()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[BusMessage]:
        while True:
            message = await self._queue.get()
            if message is None:
                if self.overflowed:
                    raise Overflowed(self.channel)
                return
            yield message


class EventBus(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, message: BusMessage) -> None: ...
    async def publish_many(self, messages: Sequence[BusMessage]) -> None: ...
    def subscribe(self, *channels: str) -> Subscription: ...
    def listen(self, deliver: Callable[[BusMessage], None], *channels: str) -> Listener: ...


class _Fanout:
    """Local subscribers by channel."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Listener]] = defaultdict(set)

    def subscribe(self, *channels: str) -> Subscription:
        """One queue for the messages of all these channels, in the order they arrive."""
        return self._add(Subscription(self, channels))

    def listen(self, deliver: Callable[[BusMessage], None], *channels: str) -> Listener:
        """`deliver(message)` for each message of these channels, called as it is published:
        no queue and no task per subscriber (what live fan-out to many sockets needs)."""
        return self._add(Listener(self, channels, deliver))

    def _add(self, listener: L) -> L:
        for channel in listener.channels:
            first = not self._subscribers[channel]
            self._subscribers[channel].add(listener)
            if first:
                self._channel_opened(channel)
            elif self._is_live(channel):
                listener._live(channel)
        return listener

    def _is_live(self, channel: str) -> bool:
        return True

    def _mark_live(self, channel: str) -> None:
        for subscription in self._subscribers.get(channel, ()):
            subscription._live(channel)

    def _drop(self, subscription: Listener) -> None:
        for channel in subscription.channels:
            members = self._subscribers.get(channel)
            if members is None or subscription not in members:
                continue
            members.discard(subscription)
            if not members:
                del self._subscribers[channel]
                self._channel_closed(channel)

    def _deliver(self, message: BusMessage) -> None:
        listeners = self._subscribers.get(message.channel)
        if not listeners:
            return
        for listener in tuple(listeners):
            try:
                listener._offer(message)
            except Exception:
                # One subscriber's bug must not keep the message from the others.
                log.exception("a bus subscriber failed on event %s", message.event_id)

    def _resync_all(self) -> None:
        marker = BusMessage(event_id=0, topic=RESYNC, member_id=None, occurred_at="", payload={})
        everyone = {s for subscriptions in self._subscribers.values() for s in subscriptions}
        for subscription in everyone:
            subscription._offer(marker)

    @property
    def channels(self) -> list[str]:
        return list(self._subscribers)

    def _channel_opened(self, channel: str) -> None:
        pass

    def _channel_closed(self, channel: str) -> None:
        pass


class InProcessBus(_Fanout):
    def _channel_opened(self, channel: str) -> None:
        self._mark_live(channel)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish(self, message: BusMessage) -> None:
        self._deliver(message)

    async def publish_many(self, messages: Sequence[BusMessage]) -> None:
        for message in messages:
            self._deliver(message)


class RedisBus(_Fanout):
    """Pub/sub through Redis. Publishing raises while Redis is away (the relay then keeps the
    events and tries again); listening reconnects with backoff and subscribes again."""

    def __init__(self, url: str, prefix: str = "trouw:") -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._changes: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._live: set[str] = set()
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="trouw-redis-bus")

    async def close(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()

    async def publish(self, message: BusMessage) -> None:
        await self._redis.publish(self.prefix + message.channel, json.dumps(asdict(message)))

    async def publish_many(self, messages: Sequence[BusMessage]) -> None:
        """In order, in one round trip per `PIPELINE` messages rather than one each."""
        for start in range(0, len(messages), PIPELINE):
            async with self._redis.pipeline(transaction=False) as pipe:
                for message in messages[start : start + PIPELINE]:
                    pipe.publish(self.prefix + message.channel, json.dumps(asdict(message)))
                await pipe.execute()

    def _is_live(self, channel: str) -> bool:
        return channel in self._live

    def _channel_opened(self, channel: str) -> None:
        self._changes.put_nowait(("subscribe", channel))

    def _channel_closed(self, channel: str) -> None:
        self._changes.put_nowait(("unsubscribe", channel))

    async def _listen(self) -> None:
        delay = 0.1
        was_down = False
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                # A marker channel keeps the connection subscribed even with no listeners.
                channels = self.channels
                await pubsub.subscribe(self.prefix + "_", *(self.prefix + c for c in channels))
                for channel in channels:
                    self._live.add(channel)
                    self._mark_live(channel)
                self.connected.set()
                if was_down:
                    self._resync_all()
                    was_down = False
                delay = 0.1
                while True:
                    await self._apply_changes(pubsub)
                    raw = await pubsub.get_message(timeout=0.05)
                    if raw is not None and raw.get("type") == "message":
                        self._deliver(BusMessage(**json.loads(raw["data"])))
            except asyncio.CancelledError:
                await _quietly(pubsub.aclose())
                raise
            except (RedisError, OSError) as exc:
                self.connected.clear()
                self._live.clear()
                was_down = True
                log.warning("redis bus disconnected (%s); retrying in %.1fs", exc, delay)
                await _quietly(pubsub.aclose())
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                # Whatever changed meanwhile is covered by subscribing to `self.channels` again.
                while not self._changes.empty():
                    self._changes.get_nowait()

    async def _apply_changes(self, pubsub: Any) -> None:
        while not self._changes.empty():
            action, channel = self._changes.get_nowait()
            if action == "subscribe" and channel in self.channels:
                await pubsub.subscribe(self.prefix + channel)
                self._live.add(channel)
                self._mark_live(channel)
            elif action == "unsubscribe" and channel not in self.channels:
                await pubsub.unsubscribe(self.prefix + channel)
                self._live.discard(channel)


async def _quietly(awaitable: Any) -> None:
    with contextlib.suppress(Exception):
        await awaitable


def make_bus(redis_url: str | None, prefix: str = "trouw:") -> EventBus:
    return RedisBus(redis_url, prefix) if redis_url else InProcessBus()
