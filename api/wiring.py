"""The composition root: the one place that builds the reactions, the services and the read
models from the settings, for `serve`, `trouw worker` and every CLI command alike; what runs
beside them (the relay, the notification worker, the after-commit reactions) is started by
`api/running.py` from what is built here.

A new capability adds its reactions in its own `reactions.py` (found through `loyalty.areas`)
and, if the API reads it, one read model in `build_reads`.
"""

from __future__ import annotations

import logging
from datetime import time, timedelta
from pathlib import Path

from api.core.identity import ExternalTokenVerifier
from api.core.ids import IdCodec
from api.core.persisted import PersistedDocuments, read_manifest
from api.core.services import Reads, Services
from api.privacy.keys import keyring_for
from api.privacy.setup import build_privacy
from api.settings import Settings
from api.wallet.setup import build_wallet
from loyalty.areas import register_reactions
from loyalty.audit.service import AuditLog
from loyalty.auth.passwords import PasswordHasher
from loyalty.auth.secrets import instance_secret
from loyalty.auth.service import AuthService, SignInLimits
from loyalty.auth.tokens import AccessTokens
from loyalty.campaigns.admin import CampaignAdmin
from loyalty.campaigns.read import CampaignReads
from loyalty.campaigns.service import CampaignsService
from loyalty.core.clock import Clock
from loyalty.core.personal import Keyring, install_keyring
from loyalty.core.reactions import Reactions
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
from notifications.bus import make_bus

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
            failures_per_pair=settings.signin_failures_per_pair,
            attempts_per_client=settings.signin_attempts_per_client,
            account_delay_after=settings.signin_account_delay_after,
            account_delay_cap=timedelta(seconds=settings.signin_account_delay_cap_seconds),
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
        ids=await id_codec(settings, db, clock),
        audit=AuditLog(db, clock),
    )


async def id_codec(settings: Settings, db: Database, clock: Clock) -> IdCodec:
    """The installation's id key: from the configured secret, or made once and shared."""
    if settings.secret_key is not None:
        return IdCodec(settings.secret_key.get_secret_value().encode())
    return IdCodec((await instance_secret(db, "node-ids", clock.now())).encode())


def fallback_budget(s: Settings) -> Budget:
    """The contact budget from the settings, for programme files without `campaigns.contact`."""
    start, end = s.quiet_hours_start, s.quiet_hours_end
    quiet = (time.fromisoformat(start), time.fromisoformat(end)) if start and end else None
    return Budget(s.marketing_daily_cap or None, s.marketing_push_cap or None, quiet)
