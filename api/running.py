"""What `trouw serve` and `trouw worker` run beside the API: the notification worker, the
after-commit reactions and the wallet's pass updates (the delivery), the outbox relay, and the
contexts that start and stop them together. Built from the services of the composition root
(`api/wiring.py`)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from api.core.metrics import count_points
from api.core.services import Services
from api.settings import Settings
from api.wallet.setup import wallet_updates
from api.wiring import build_services, id_codec
from loyalty.core.clock import Clock
from loyalty.core.opaque_ids import OpaqueIds
from loyalty.core.reactions import ReactionRunner, Reactions
from loyalty.storage.database import Database
from notifications.bus import EventBus, make_bus
from notifications.channels import PushSender
from notifications.channels.apns import ApnsSender
from notifications.channels.fcm import FcmSender
from notifications.config import (
    NotificationConfig,
    Retry,
    parse_webhooks,
)
from notifications.relay import OutboxRelay
from notifications.worker import Worker
from wallet.updates import WalletUpdates

log = logging.getLogger("trouw")

# -- the delivery: notification worker and after-commit reactions ---------------------------


def notification_config(s: Settings, ids: OpaqueIds) -> NotificationConfig:
    """Raises ValueError with a readable reason for bad settings."""
    return NotificationConfig(
        ids=ids,
        webhooks=parse_webhooks(s.webhooks),
        push_enabled=s.push_enabled,
        retry=Retry(
            timedelta(seconds=s.delivery_backoff_base_seconds),
            timedelta(seconds=s.delivery_backoff_cap_seconds),
            s.delivery_max_attempts,
        ),
        webhook_timeout=s.webhook_timeout_seconds,
        push_ttl=timedelta(hours=s.push_ttl_hours),
        lease=timedelta(seconds=s.worker_lease_seconds),
        batch_size=s.worker_batch_size,
        concurrency=s.worker_concurrency,
    )


def push_senders(s: Settings) -> dict[str, PushSender]:
    senders: dict[str, PushSender] = {}
    key = (
        s.apns_private_key.get_secret_value()
        if s.apns_private_key
        else Path(s.apns_private_key_file).read_text()
        if s.apns_private_key_file
        else None
    )
    if s.apns_team_id and s.apns_key_id and s.apns_topic and key:
        senders["ios"] = ApnsSender(
            s.apns_team_id,
            s.apns_key_id,
            key,
            s.apns_topic,
            s.apns_base_url,
            ca_file=s.apns_ca_file,
        )
    account = (
        s.fcm_service_account.get_secret_value()
        if s.fcm_service_account
        else Path(s.fcm_service_account_file).read_text()
        if s.fcm_service_account_file
        else None
    )
    if account:
        senders["android"] = FcmSender(json.loads(account), s.fcm_base_url)
    return senders


def build_worker(s: Settings, db: Database, clock: Clock, ids: OpaqueIds) -> Worker:
    return Worker(db, clock, notification_config(s, ids), push_senders(s), http=None)


async def close_worker(worker: Worker) -> None:
    await worker.aclose()
    for sender in worker.push_senders.values():
        await sender.close()  # type: ignore[attr-defined]


def worker_in_serve(s: Settings, db: Database) -> bool:
    return s.worker_in_serve if s.worker_in_serve is not None else db.is_sqlite


@dataclass
class Delivery:
    """The notification worker, the after-commit reactions and the wallet's pass updates:
    they run in the same processes (inside `trouw serve` where configured, and in `trouw
    worker`) and stop together."""

    worker: Worker
    reactions: ReactionRunner
    interval: float
    passes: WalletUpdates | None = None

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [
            asyncio.create_task(self.worker.run(stop, self.interval), name="trouw-worker"),
            asyncio.create_task(self.reactions.run(stop, self.interval), name="trouw-reactions"),
        ]
        if self.passes is not None:
            loop = self.passes.run(stop, self.interval)
            tasks.append(asyncio.create_task(loop, name="trouw-wallet-updates"))
        await asyncio.gather(*tasks)

    async def close(self) -> None:
        await close_worker(self.worker)
        if self.passes is not None:
            await self.passes.close()


def build_delivery(
    s: Settings, db: Database, reactions: Reactions, clock: Clock, ids: OpaqueIds
) -> Delivery:
    return Delivery(
        worker=build_worker(s, db, clock, ids),
        reactions=ReactionRunner(db, reactions, clock),
        interval=s.worker_interval_seconds,
        passes=wallet_updates(s, db, clock),
    )


# -- running --------------------------------------------------------------------------------


class Background:
    """The loops a process runs beside its work (the relay, the delivery), stopped together."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, loop: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(loop, name=name))

    async def until_stopped(self) -> None:
        """Wait for `stop`, or for a loop to end by itself (it failed: its error is raised)."""
        waiter = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait([waiter, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        for task in self._tasks:
            error = task.exception() if task.done() and not task.cancelled() else None
            if error is not None:
                raise error

    async def close(self) -> None:
        self.stop.set()
        for result in await asyncio.gather(*self._tasks, return_exceptions=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("background loop failed", exc_info=result)


def start_relay(background: Background, db: Database, bus: EventBus, clock: Clock) -> None:
    """Publish committed events to the bus, at once after this process's own commits."""
    relay = OutboxRelay(db, bus, clock, observers=(count_points,))
    db.commit_listeners.append(relay.poke)
    background.start("trouw-relay", relay.run(background.stop))


async def start_delivery(
    background: Background, settings: Settings, db: Database, reactions: Reactions, clock: Clock
) -> Delivery:
    """The notification worker and the after-commit reactions, which run (and stop) together."""
    ids = (await id_codec(settings, db, clock)).opaque
    delivery = build_delivery(settings, db, reactions, clock, ids)
    background.start("trouw-delivery", delivery.run(background.stop))
    return delivery


@asynccontextmanager
async def serving(
    settings: Settings, db: Database, reactions: Reactions, clock: Clock
) -> AsyncIterator[Services]:
    """Everything `trouw serve` runs: the services, the bus, the relay (unless switched off)
    and, where configured (by default on SQLite), the delivery."""
    services = await build_services(settings, db, clock)
    await services.bus.start()
    background = Background()
    delivery = None
    try:
        if settings.relay:
            start_relay(background, db, services.bus, clock)
        if worker_in_serve(settings, db):
            delivery = await start_delivery(background, settings, db, reactions, clock)
        yield services
    finally:
        await background.close()
        if delivery is not None:
            await delivery.close()
        await services.bus.close()
        if services.wallet is not None:
            await services.wallet.close()


@asynccontextmanager
async def working(
    settings: Settings, db: Database, reactions: Reactions, clock: Clock
) -> AsyncIterator[tuple[Background, Delivery]]:
    """Everything `trouw worker` runs: the delivery and, with a shared (Redis) bus, a relay, so
    live updates flow even with no server running one (an in-process bus would reach no one)."""
    background = Background()
    bus = make_bus(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
    delivery = await start_delivery(background, settings, db, reactions, clock)
    try:
        if bus is not None:
            await bus.start()
            start_relay(background, db, bus, clock)
        yield background, delivery
    finally:
        await background.close()
        await delivery.close()
        if bus is not None:
            await bus.close()
