"""The composition root: the one place that builds the reactions, the services, the read
models, the relay, the notification worker and the after-commit reactions from the settings,
for `serve`, `trouw worker` and every CLI command alike.

A new capability adds its reactions in its own `reactions.py` (found through `loyalty.areas`)
and, if the API reads it, one read model in `build_reads`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from api.core.identity import ExternalTokenVerifier
from api.core.metrics import count_points
from api.core.persisted import PersistedDocuments, read_manifest
from api.core.services import Reads, Services
from api.privacy.keys import keyring_for
from api.privacy.setup import build_privacy
from api.settings import Settings
from api.wallet.setup import build_wallet, wallet_updates
from loyalty.areas import register_reactions
from loyalty.auth.passwords import PasswordHasher
from loyalty.auth.secrets import instance_secret
from loyalty.auth.service import AuthService, SignInLimits
from loyalty.auth.tokens import AccessTokens
from loyalty.campaigns.admin import CampaignAdmin
from loyalty.campaigns.read import CampaignReads
from loyalty.campaigns.service import CampaignsService
from loyalty.core.clock import Clock
from loyalty.core.personal import Keyring, install_keyring
from loyalty.core.reactions import ReactionRunner, Reactions
from loyalty.members.read import MemberReads
from loyalty.members.service import ProfileService
from loyalty.messaging.budget import Budget, install_fallback
from loyalty.messaging.devices import DeviceService
from loyalty.messaging.inbox import InboxService
from loyalty.messaging.read import MessagingReads
from loyalty.offers.admin import OfferAdmin
from loyalty.offers.service import OffersService
from loyalty.offers.till_service import TillOffers
from loyalty.points.read import PointsReads
from loyalty.points.service import PointsService
from loyalty.referrals.read import ReferralReads
from loyalty.referrals.service import ReferralService
from loyalty.reports.read import ReportReads
from loyalty.rewards.read import RewardReads
from loyalty.rewards.service import RewardsService
from loyalty.segments.read import SegmentReads
from loyalty.segments.service import SegmentsService
from loyalty.storage.database import Database
from loyalty.surveys.admin import SurveyAdmin
from loyalty.surveys.service import SurveysService
from loyalty.tiers.read import TierReads
from notifications.bus import EventBus, make_bus
from notifications.channels import PushSender
from notifications.channels.apns import ApnsSender
from notifications.channels.fcm import FcmSender
from notifications.config import NotificationConfig, Retry, parse_webhooks
from notifications.relay import OutboxRelay
from notifications.worker import Worker
from wallet.updates import WalletUpdates

log = logging.getLogger("trouw")


def build_reactions() -> Reactions:
    """Every area's reactions (`loyalty.areas`), then those of the packages around the domain."""
    return register_reactions(Reactions())


def wire_database(
    db: Database,
    reactions: Reactions | None = None,
    keyring: Keyring | None = None,
    settings: Settings | None = None,
) -> Reactions:
    """Make every writing unit of work on `db` run the in-transaction reactions, every
    session seal and open personal data with the keyring (by default the one configured),
    and see the settings' contact budget (for programme files that state none)."""
    settings = settings or Settings()
    install_keyring(db.info, keyring or keyring_for(settings, db))
    install_fallback(db.info, fallback_budget(settings))
    reactions = reactions or build_reactions()
    db.before_commit.append(reactions.run_in_transaction)
    return reactions


def open_database(settings: Settings) -> tuple[Database, Reactions]:
    """The configured database, wired with the reactions (which are returned, for the runner
    of the after-commit ones)."""
    db = Database(settings.database_url)
    return db, wire_database(db, keyring=keyring_for(settings, db), settings=settings)


# The contract's operations as a persisted query manifest (`trouw export-persisted-documents`).
CONTRACT_DOCUMENTS = Path(__file__).with_name("contract-documents.json")


def persisted_documents(settings: Settings) -> PersistedDocuments:
    """The documents registered at start-up: the contract's and the brand's manifests."""
    registered = read_manifest(CONTRACT_DOCUMENTS)
    for name in (settings.persisted_documents or "").split(","):
        if name.strip():
            registered.update(read_manifest(Path(name.strip())))
    return PersistedDocuments(registered, settings.persisted_only)


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
    )


async def _auth(settings: Settings, db: Database, clock: Clock) -> AuthService:
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value()
    else:
        secret = await instance_secret(db, "access-token-signing", clock.now())
    tokens = AccessTokens(
        secret.encode(), timedelta(seconds=settings.access_token_ttl_seconds), clock
    )
    return AuthService(
        db,
        clock,
        tokens,
        password_hasher(settings),
        limits=SignInLimits(
            window=timedelta(seconds=settings.signin_window_seconds),
            failures_per_account=settings.signin_failures_per_account,
            attempts_per_client=settings.signin_attempts_per_client,
        ),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        session_lifetime=timedelta(seconds=settings.session_lifetime_seconds),
        api_key_ttl=timedelta(seconds=settings.api_key_cache_seconds),
    )


def _identity(settings: Settings) -> ExternalTokenVerifier | None:
    if not settings.idp_enabled:
        return None
    return ExternalTokenVerifier(
        settings.idp_issuer or "",
        audience=settings.idp_audience,
        algorithms=settings.idp_algorithms,
        jwks_url=settings.idp_jwks_url,
        public_key=settings.idp_public_key,
    )


def build_reads(db: Database, clock: Clock, rewards: RewardsService) -> Reads:
    return Reads(
        members=MemberReads(db),
        points=PointsReads(db, clock),
        tiers=TierReads(db, clock),
        rewards=RewardReads(db, rewards),
        messaging=MessagingReads(db),
        reports=ReportReads(db, clock),
        segments=SegmentReads(db, clock),
        referrals=ReferralReads(db),
        campaigns=CampaignReads(db, clock),
    )


async def build_services(settings: Settings, db: Database, clock: Clock) -> Services:
    rewards = RewardsService(db, clock)
    return Services(
        settings=settings,
        clock=clock,
        auth=await _auth(settings, db, clock),
        profiles=ProfileService(db, clock),
        points=PointsService(db, clock),
        rewards=rewards,
        offers=OffersService(db, clock),
        offer_admin=OfferAdmin(db, clock),
        till_offers=TillOffers(db, clock),
        segments=SegmentsService(db, clock),
        surveys=SurveysService(db, clock),
        survey_admin=SurveyAdmin(db, clock),
        referrals=ReferralService(db, clock),
        devices=DeviceService(db, clock),
        inbox=InboxService(db, clock),
        campaigns=CampaignsService(db, clock),
        campaign_admin=CampaignAdmin(db, clock),
        reads=build_reads(db, clock, rewards),
        db=db,
        bus=make_bus(settings.redis_url, settings.redis_prefix),
        identity=_identity(settings),
        wallet=await build_wallet(settings, db, clock),
        privacy=build_privacy(settings, db, clock, password_hasher(settings)),
    )


def fallback_budget(s: Settings) -> Budget:
    """The contact budget from the settings, for programme files without `campaigns.contact`."""
    start, end = s.quiet_hours_start, s.quiet_hours_end
    quiet = (time.fromisoformat(start), time.fromisoformat(end)) if start and end else None
    return Budget(s.marketing_daily_cap or None, s.marketing_push_cap or None, quiet)


# -- the delivery: notification worker and after-commit reactions ---------------------------


def notification_config(s: Settings) -> NotificationConfig:
    """Raises ValueError with a readable reason for bad settings."""
    return NotificationConfig(
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


def build_worker(s: Settings, db: Database, clock: Clock) -> Worker:
    return Worker(db, clock, notification_config(s), push_senders(s), http=None)


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


def build_delivery(s: Settings, db: Database, reactions: Reactions, clock: Clock) -> Delivery:
    return Delivery(
        worker=build_worker(s, db, clock),
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


def start_delivery(
    background: Background, settings: Settings, db: Database, reactions: Reactions, clock: Clock
) -> Delivery:
    """The notification worker and the after-commit reactions, which run (and stop) together."""
    delivery = build_delivery(settings, db, reactions, clock)
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
            delivery = start_delivery(background, settings, db, reactions, clock)
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
    delivery = start_delivery(background, settings, db, reactions, clock)
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
