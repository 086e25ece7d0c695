"""Every event Trouw emits, declared once: its name, its version and a typed, frozen payload.

An event is written to the outbox in the same transaction as the change it reports
(`loyalty.core.outbox.emit`). Everything that hears about events (reactions, the relay, live
subscriptions, the notification worker, webhooks) goes through these types: the topic string
and the payload keys are spelled here and nowhere else. A payload travels as JSON: datetimes
as ISO 8601 strings, amounts of money as decimal strings. `member_id` is not part of the
payload; the outbox keeps it in a column of its own.

Changing a payload in a way old readers cannot take means a new `version` and a `migrate`
that reads the older payloads still in the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loyalty.core.event_base import E as E
from loyalty.core.event_base import Event as Event
from loyalty.core.event_base import Recorded as Recorded
from loyalty.core.event_base import UnknownEvent as UnknownEvent
from loyalty.core.event_base import wire as wire
from loyalty.core.event_codec import fields_of as fields_of  # where it was first
from loyalty.core.events_campaigns import CampaignEntered as CampaignEntered
from loyalty.core.events_campaigns import CampaignMessage as CampaignMessage
from loyalty.core.events_campaigns import DeliveryLate as DeliveryLate
from loyalty.core.events_engagement import OfferActivated as OfferActivated
from loyalty.core.events_engagement import OfferChanged as OfferChanged
from loyalty.core.events_engagement import OfferExpired as OfferExpired
from loyalty.core.events_engagement import OfferGranted as OfferGranted
from loyalty.core.events_engagement import OfferRedeemed as OfferRedeemed
from loyalty.core.events_engagement import SegmentEntered as SegmentEntered
from loyalty.core.events_engagement import SegmentLeft as SegmentLeft
from loyalty.core.events_engagement import SurveyCompleted as SurveyCompleted
from loyalty.core.events_engagement import SurveyDetractor as SurveyDetractor
from loyalty.core.events_engagement import SurveyPromoter as SurveyPromoter
from loyalty.core.events_ledger import ActivityRecorded as ActivityRecorded
from loyalty.core.events_ledger import BalanceChanged as BalanceChanged
from loyalty.core.events_ledger import PointsExpiring as PointsExpiring
from loyalty.core.events_ledger import PurchaseRecorded as PurchaseRecorded
from loyalty.core.events_ledger import PurchaseReturned as PurchaseReturned
from loyalty.core.events_ledger import RewardCancelled as RewardCancelled
from loyalty.core.events_ledger import RewardCodeRedeemed as RewardCodeRedeemed
from loyalty.core.events_ledger import RewardRedeemed as RewardRedeemed
from loyalty.core.events_ledger import TierChanged as TierChanged
from loyalty.core.events_members import ConsentChanged as ConsentChanged
from loyalty.core.events_members import MemberSignedUp as MemberSignedUp
from loyalty.core.events_members import ProfileCompleted as ProfileCompleted
from loyalty.core.events_members import ProfileUpdated as ProfileUpdated
from loyalty.core.events_privacy import DataExported as DataExported
from loyalty.core.events_privacy import ErasureCancelled as ErasureCancelled
from loyalty.core.events_privacy import ErasureRequested as ErasureRequested
from loyalty.core.events_privacy import MemberErased as MemberErased
from loyalty.core.events_referrals import ReferralHeld as ReferralHeld
from loyalty.core.events_referrals import ReferralQualified as ReferralQualified
from loyalty.core.events_referrals import ReferralRejected as ReferralRejected
from loyalty.core.events_referrals import ReferralRewarded as ReferralRewarded
from loyalty.core.events_referrals import ReferralSignedUp as ReferralSignedUp
from loyalty.core.events_wallet import WalletPassAdded as WalletPassAdded
from loyalty.core.events_wallet import WalletPassRemoved as WalletPassRemoved

EVENT_TYPES: tuple[type[Event], ...] = (
    BalanceChanged,
    PointsExpiring,
    PurchaseRecorded,
    PurchaseReturned,
    ActivityRecorded,
    MemberSignedUp,
    ProfileCompleted,
    ProfileUpdated,
    ConsentChanged,
    TierChanged,
    RewardRedeemed,
    RewardCodeRedeemed,
    RewardCancelled,
    OfferGranted,
    OfferActivated,
    OfferRedeemed,
    OfferExpired,
    OfferChanged,
    SegmentEntered,
    SegmentLeft,
    SurveyCompleted,
    SurveyDetractor,
    SurveyPromoter,
    DataExported,
    ErasureRequested,
    ErasureCancelled,
    MemberErased,
    ReferralSignedUp,
    ReferralQualified,
    ReferralRewarded,
    ReferralHeld,
    ReferralRejected,
    DeliveryLate,
    CampaignEntered,
    CampaignMessage,
    WalletPassAdded,
    WalletPassRemoved,
)
BY_NAME: dict[str, type[Event]] = {t.name: t for t in EVENT_TYPES}


def event_type(name: str) -> type[Event]:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownEvent(f"no event is called {name!r}") from None


def decode(name: str, member_id: int | None, payload: Mapping[str, Any], version: int) -> Event:
    return event_type(name).from_payload(member_id, payload, version)
