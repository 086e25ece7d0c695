"""One member's live events of some types, each once and in order: what they missed after a
cursor (from the outbox), then what the bus brings, then again from the outbox when the bus
was away.

A stream listens on the bus first, then catches up, so nothing falls between the two; event
ids it has passed on are skipped afterwards. It owns no task while idle: a message the
subscriber can take at once is handed over as the bus publishes it (which is what lets one
process serve many thousands of sockets), and a task runs only while there is catching up
or other awaiting to do, with later messages waiting behind it in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from api.core.errors import ApiError, ApiErrorCode
from api.core.services import Services
from loyalty.core.events import Event
from notifications import feed
from notifications.bus import (
    PROGRAMME_CHANNEL,
    QUEUE_SIZE,
    RESYNC,
    BusMessage,
    Listener,
    member_channel,
)

if TYPE_CHECKING:
    from loyalty.storage.database import Database

log = logging.getLogger("trouw.live")
READY_TIMEOUT = 2.0

# What a subscriber does with a message: at once (None), or an awaitable to run in order.
Take = Callable[[BusMessage], Awaitable[None] | None]
# Called once when the stream ends by itself: with the error, or None.
End = Callable[[BaseException | None], None]


# Subscribers that start together (a burst of reconnecting apps) look up where they start
# from in one query: one loader per database, batching what is asked in the same moment.
_NEWEST: weakref.WeakKeyDictionary[Database, DataLoader[tuple[int, bool], int]] = (
    weakref.WeakKeyDictionary()
)


def _newest(db: Database) -> DataLoader[tuple[int, bool], int]:
    loader = _NEWEST.get(db)
    if loader is None:

        async def load(asks: list[tuple[int, bool]]) -> list[int]:
            return await feed.newest_of(db, asks)

        loader = _NEWEST[db] = DataLoader(load_fn=load, cache=False, max_batch_size=500)
    return loader


def slow_consumer() -> ApiError:
    return ApiError(
        ApiErrorCode.SLOW_CONSUMER, "Too many updates queued; reconnect with your cursor"
    )


class LiveStream:
    """Start it with `start()`, stop it with `close()` (it then calls nothing any more)."""

    __slots__ = (
        "_closed",
        "_end",
        "_last",
        "_listener",
        "_pending",
        "_take",
        "_topics",
        "_worker",
        "kinds",
        "member_id",
        "programme_wide",
        "services",
    )

    def __init__(
        self,
        services: Services,
        member_id: int,
        kinds: tuple[type[Event], ...],
        after: int | None,
        take: Take,
        end: End,
        *,
        programme_wide: bool = False,
    ) -> None:
        self.services = services
        self.member_id = member_id
        self.kinds = kinds
        self.programme_wide = programme_wide
        self._topics = frozenset(kind.name for kind in kinds)
        self._last = after
        self._take = take
        self._end = end
        self._pending: deque[BusMessage] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self._listener: Listener | None = None

    def start(self) -> None:
        channels: tuple[str, ...] = (member_channel(self.member_id),)
        if self.programme_wide:
            channels = (*channels, PROGRAMME_CHANNEL)
        # Listening starts before catching up: what is published meanwhile waits its turn.
        self._run(self._catch_up())
        self._listener = self.services.bus.listen(self._arrived, *channels)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._listener.close()
        # A worker still reading finishes that read, then stops: it takes nothing more.

    def _finish(self, error: BaseException | None) -> None:
        if not self._closed:
            self.close()
            self._end(error)

    def _arrived(self, message: BusMessage) -> None:
        if self._closed:
            return
        if self._worker is not None:
            # Busy catching up or awaiting: this one waits its turn.
            pending = self._pending = self._pending or deque()
            if len(pending) >= QUEUE_SIZE:
                self._finish(slow_consumer())
            else:
                pending.append(message)
            return
        try:
            step = self._step(message)
        except Exception as exc:
            self._finish(exc)
            return
        if step is not None:
            self._run(step)

    def _step(self, message: BusMessage) -> Awaitable[None] | None:
        if message.topic == RESYNC:
            # The bus was away: what was published meanwhile is in the outbox.
            return self._replay()
        if message.topic in self._topics and message.event_id > (self._last or 0):
            self._last = message.event_id
            return self._take(message)
        return None

    def _run(self, first: Awaitable[None]) -> None:
        self._worker = asyncio.ensure_future(self._work(first))

    async def _work(self, first: Awaitable[None]) -> None:
        try:
            await first
            while self._pending and not self._closed:
                step = self._step(self._pending.popleft())
                if step is not None:
                    await step
        except Exception as exc:
            self._finish(exc)
        finally:
            self._worker = None

    async def _catch_up(self) -> None:
        assert self._listener is not None
        ready = self._listener.ready
        if not ready.is_set():
            # If the bus is away, go on: live updates resume when it is back.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), READY_TIMEOUT)
        if self._last is None:
            # No cursor: changes from now on. Anything already committed counts as seen.
            newest = _newest(self.services.db)
            self._last = await newest.load((self.member_id, self.programme_wide))
        else:
            await self._replay()

    async def _replay(self) -> None:
        missed = await feed.missed(
            self.services.db,
            self.member_id,
            self.kinds,
            self._last or 0,
            programme_wide=self.programme_wide,
        )
        for message in missed:
            if self._closed:
                return
            self._last = message.event_id
            step = self._take(message)
            if step is not None:
                await step
