"""What a request may use, built once by the composition root (`api/wiring.py`): the domain's
services for changes and its read models for reads. Resolvers, types and loaders reach the
domain through these and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from notifications.bus import EventBus, InProcessBus

if TYPE_CHECKING:
    from api.core.identity import ExternalTokenVerifier
    from api.core.ids import IdCodec
    from api.settings import Settings
    from loyalty.audit.service import AuditLog
    from loyalty.auth.service import AuthService
    from loyalty.campaigns.admin import CampaignAdmin
    from loyalty.campaigns.read import CampaignReads
    from loyalty.campaigns.service import CampaignsService
    from loyalty.core.clock import Clock
    from loyalty.members.read import MemberReads
    from loyalty.members.service import ProfileService
    from loyalty.messaging.devices import DeviceService
    from loyalty.messaging.inbox import InboxService
    from loyalty.messaging.read import MessagingReads
    from loyalty.offers.admin import OfferAdmin
    from loyalty.offers.service import OffersService
    from loyalty.offers.till_service import TillOffers
    from loyalty.points.read import PointsReads
    from loyalty.points.service import PointsService
    from loyalty.privacy.service import PrivacyService
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
    from wallet.service import Wallet


@dataclass(frozen=True)
class Reads:
    """The read models, one per area that the API reads from."""

    members: MemberReads
    points: PointsReads
    tiers: TierReads
    rewards: RewardReads
    messaging: MessagingReads
    reports: ReportReads
    segments: SegmentReads
    referrals: ReferralReads
    campaigns: CampaignReads


@dataclass
class Services:
    settings: Settings
    clock: Clock
    auth: AuthService
    profiles: ProfileService
    points: PointsService
    rewards: RewardsService
    offers: OffersService
    offer_admin: OfferAdmin
    till_offers: TillOffers
    segments: SegmentsService
    surveys: SurveysService
    survey_admin: SurveyAdmin
    referrals: ReferralService
    devices: DeviceService
    inbox: InboxService
    campaigns: CampaignsService
    campaign_admin: CampaignAdmin
    reads: Reads
    # For the live feed's replay only (until `notifications.feed` serves it); resolvers read
    # through `reads` and change things through the services.
    db: Database
    bus: EventBus = field(default_factory=InProcessBus)
    identity: ExternalTokenVerifier | None = None
    # None when wallet passes are not configured.
    wallet: Wallet | None = None
    # Data exports and erasure (built by the composition root; None only in odd test setups).
    privacy: PrivacyService | None = None
    # The audit log (api/audit): every admin and till change is recorded there.
    audit: AuditLog = field(default=None)  # type: ignore[assignment]
    # Seals and opens global ids (api/core/ids.py); None only where no ids are read or sent.
    ids: IdCodec | None = None
