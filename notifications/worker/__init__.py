"""The notification worker (`trouw worker`): outbox events out to pushes, webhooks and inboxes.

Three steps, each safe to run in any number of processes at once:

1. Fan-out (`dispatch`): each outbox event not dispatched yet becomes delivery rows (one per
   subscribed webhook endpoint, one per device of the member for events that warrant a
   push) and the inbox message itself, in one transaction with the mark that it was done.
2. Claiming (`lease`): due deliveries are leased to one worker in a short transaction, after
   policy (consent, quiet hours, contact pressure) had its say.
3. Delivery (`delivery`): the claims are sent outside any transaction, and the outcome is
   written only if the lease is still this worker's. A worker that dies mid-delivery leaves
   the lease to run out; the next claim sends again. Delivery is therefore at least once,
   and every duplicate carries the same event id.

Retries back off exponentially with jitter; after the last attempt the delivery is dead (kept
for an operator: `requeue_dead`). See `notifications.policy` for who hears about what.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import timedelta

import httpx
from sqlalchemy import update

from loyalty.core.clock import Clock
from loyalty.core.cursors import CURSOR_SAFETY
from loyalty.messaging.models import NotificationDelivery
from loyalty.storage.database import Database
from notifications.channels.base import Delivery, PushSender
from notifications.config import NotificationConfig
from notifications.worker.delivery import Claim, Courier
from notifications.worker.dispatch import DISPATCH_CURSOR, DISPATCH_LOCK_KEY, Dispatcher
from notifications.worker.lease import Leaser

__all__ = [
    "CURSOR_SAFETY",
    "DISPATCH_CURSOR",
    "DISPATCH_LOCK_KEY",
    "Claim",
    "Worker",
    "requeue_dead",
]

log = logging.getLogger("trouw.worker")


class Worker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: NotificationConfig,
        push_senders: Mapping[str, PushSender] | None = None,
        http: httpx.AsyncClient | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.push_senders = dict(push_senders or {})
        self._dispatcher = Dispatcher(db, clock, config, self.push_senders)
        self._courier = Courier(db, clock, config, self.push_senders, http, rng or random.Random())
        self._leaser = Leaser(db, clock, config, self._courier)

    # -- running -----------------------------------------------------------------------

    async def run_once(self) -> int:
        """Fan out one batch of events and deliver one batch of due deliveries. Returns how
        much was done (events dispatched + deliveries handled); 0 means idle."""
        dispatched = await self.dispatch()
        claims, decided = await self._leaser.claim()
        await self.deliver(claims)
        return dispatched + len(claims) + decided

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Work until `stop` is set; poll every `interval` seconds when idle. Errors (e.g. the
        database going away) are logged and the loop carries on."""
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("notification worker round failed")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    async def aclose(self) -> None:
        await self._courier.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        return self._courier.http

    # -- the steps -----------------------------------------------------------------------

    async def dispatch(self) -> int:
        """Plan the deliveries of one batch of undispatched events. Returns the events done."""
        return await self._dispatcher.dispatch()

    async def claim(self) -> list[Claim]:
        """Lease one batch of due deliveries to this worker (those that policy settles
        without sending are settled here and not returned)."""
        claims, _ = await self._leaser.claim()
        return claims

    async def deliver(self, claims: Sequence[Claim]) -> None:
        """Send each claimed delivery (several at a time) and record what happened."""
        await self._courier.deliver(claims)

    async def send(self, claim: Claim) -> Delivery:
        """One attempt over the claim's channel; never raises for what the other side does."""
        return await self._courier.send(claim)

    async def record(self, claim: Claim, outcome: Delivery) -> bool:
        """Write the outcome of an attempt, if this worker still holds the lease. Returns
        whether it did."""
        return await self._courier.record(claim, outcome)

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt (exponential, capped, jittered)."""
        return self._courier.backoff(attempts)


async def requeue_dead(db: Database, clock: Clock, ids: Sequence[int] | None = None) -> int:
    """Give dead deliveries (all, or those named) a fresh set of attempts, due now."""
    now = clock.now()
    statement = update(NotificationDelivery).where(NotificationDelivery.status == "dead")
    if ids is not None:
        statement = statement.where(NotificationDelivery.id.in_(ids))
    async with db.unit_of_work() as uow:
        result = await uow.session.execute(
            statement.values(status="pending", attempts=0, next_attempt_at=now, lease_token=None)
        )
        await uow.commit()
    return int(getattr(result, "rowcount", 0))
