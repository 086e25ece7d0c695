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
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

from loyalty.core.event_codec import MISSING, codec
from loyalty.core.event_codec import fields_of as fields_of  # where it was first


class UnknownEvent(ValueError):
    """An outbox row whose topic or version no event type here reads."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event. Subclasses set `name` (the topic) and `description`."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str]

    member_id: int | None

    def to_payload(self) -> dict[str, Any]:
        return {c.wire: c.encode(getattr(self, c.name)) for c in codec(type(self))}

    @classmethod
    def from_payload(
        cls: type[E], member_id: int | None, payload: Mapping[str, Any], version: int = 1
    ) -> E:
        if version != cls.version:
            payload = cls.migrate(payload, version)
        values: dict[str, Any] = {"member_id": member_id}
        for c in codec(cls):
            value = payload.get(c.wire, MISSING)
            if value is MISSING:
                if c.required:
                    raise UnknownEvent(f"{cls.name} v{version}: {c.wire!r} is missing")
            else:
                values[c.name] = None if value is None else c.decode(value)
        return cls(**values)

    @classmethod
    def migrate(cls, payload: Mapping[str, Any], version: int) -> Mapping[str, Any]:
        """Bring an older version's payload up to this one (none exist yet)."""
        raise UnknownEvent(f"{cls.name} has no version {version}")


E = TypeVar("E", bound=Event)


# Name on the wire for fields whose Python name cannot be the payload key.
def wire(name: str, **kwargs: Any) -> Any:
    return field(metadata={"wire": name}, **kwargs)


@dataclass(frozen=True)
class Recorded(Generic[E]):
    """An event as the outbox holds it: with its id (the cursor clients resume from) and the
    time of the change."""

    id: int
    occurred_at: datetime
    event: E


@dataclass(frozen=True, kw_only=True)
class BalanceChanged(Event):
    name = "balance.changed"
    description = "A ledger entry changed the member's points; the balance after the change."

    entry_id: int
    kind: str
    points: int
    entry_description: str = wire("description")
    occurred_at: datetime
    available_at: datetime | None
    expires_at: datetime | None
    available: int
    pending: int
    lifetime_earned: int
    debt: int
    expiring_points: int
    expiring_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class PointsExpiring(Event):
    name = "points.expiring"
    description = "Points of the member expire soon (the expiry warning)."

    points: int
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class PurchaseRecorded(Event):
    name = "purchase.recorded"
    description = "A till or web shop recorded a purchase for the member."

    purchase_id: int
    external_id: str
    store: str | None
    currency: str
    total: Decimal
    eligible_total: Decimal
    points_earned: int
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class PurchaseReturned(Event):
    name = "purchase.returned"
    description = "Goods of a purchase came back; the points taken back for them."

    purchase_id: int
    purchase_external_id: str
    external_id: str
    amount: Decimal
    points_reversed: int


@dataclass(frozen=True, kw_only=True)
class ActivityRecorded(Event):
    name = "activity.recorded"
    description = (
        "Something the member did (an event sent by the app or a till, or a moment such as "
        "signing up) was recorded, with the points it earned."
    )

    activity: str
    external_id: str
    points_awarded: int
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class MemberSignedUp(Event):
    name = "member.signed_up"
    description = (
        "A member joined the programme (in the app, through the brand's identity provider, "
        "or by an import)."
    )

    channel: str


@dataclass(frozen=True, kw_only=True)
class ProfileCompleted(Event):
    name = "member.profile_completed"
    description = "The member's profile has every field the programme asks for."


@dataclass(frozen=True, kw_only=True)
class ProfileUpdated(Event):
    name = "member.profile_updated"
    description = "The member changed their profile; the names of the fields that changed."

    fields: str  # comma-separated field names


@dataclass(frozen=True, kw_only=True)
class ConsentChanged(Event):
    name = "member.consent_changed"
    description = "The member granted or withdrew a consent (a channel, or personalisation)."

    channel: str
    granted: bool


@dataclass(frozen=True, kw_only=True)
class TierChanged(Event):
    name = "tier.changed"
    description = "The member moved to another tier."

    from_tier: str = wire("from")
    to_tier: str = wire("to")
    reason: str


@dataclass(frozen=True, kw_only=True)
class RewardRedeemed(Event):
    name = "reward.redeemed"
    description = "The member exchanged points for a reward; its code is ready for the till."

    redemption_id: int
    reward_id: int
    reward_key: str
    points: int
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class RewardCodeRedeemed(Event):
    name = "reward.code_redeemed"
    description = "A till accepted the member's reward code."

    redemption_id: int
    reward_id: int


@dataclass(frozen=True, kw_only=True)
class RewardCancelled(Event):
    name = "reward.cancelled"
    description = "An unused reward code was cancelled and its points given back."

    redemption_id: int
    reward_id: int
    points: int


@dataclass(frozen=True, kw_only=True)
class OfferGranted(Event):
    name = "offer.granted"
    description = (
        "An offer became available to the member (a segment entered, a pause lifted); with no "
        "member, to everyone it is for (a new, resumed or changed offer)."
    )

    offer_id: int
    offer_key: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class OfferActivated(Event):
    name = "offer.activated"
    description = "The member activated (clipped) an offer; it applies at the till from now on."

    offer_id: int
    offer_key: str
    offer_version: int
    coupon_code: str | None


@dataclass(frozen=True, kw_only=True)
class OfferRedeemed(Event):
    name = "offer.redeemed"
    description = (
        "An offer was used at the till: it applied to a purchase (points and/or discount), or "
        "its coupon code was taken."
    )

    offer_id: int
    offer_key: str
    purchase_id: int | None
    points: int
    discount: Decimal = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class OfferExpired(Event):
    name = "offer.expired"
    description = (
        "An offer is no longer available to the member: it ended, was paused or archived, a "
        "limit or budget was reached, or the member left its segment; with no member, to "
        "anyone new (paused, archived, its global limit or budget used up)."
    )

    offer_id: int
    offer_key: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class OfferChanged(Event):
    name = "offer.changed"
    description = "One of the member's personal offers was granted, updated or removed."

    change: str
    offer: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class SegmentEntered(Event):
    name = "segment.entered"
    description = "The member now fits a segment's rules; why, in words."

    segment_id: int
    segment_key: str
    reasons: str  # the membership's reasons, joined with "; "


@dataclass(frozen=True, kw_only=True)
class SegmentLeft(Event):
    name = "segment.left"
    description = "The member no longer fits a segment's rules (or the segment was removed)."

    segment_id: int
    segment_key: str


@dataclass(frozen=True, kw_only=True)
class SurveyCompleted(Event):
    name = "survey.completed"
    description = (
        "The member answered a survey to the end; the incentive points it awarded (once), and "
        "the NPS score if the survey asked one."
    )

    survey_id: int
    survey_key: str
    survey_version: int
    response_id: int
    points_awarded: int
    nps: int | None


@dataclass(frozen=True, kw_only=True)
class SurveyDetractor(Event):
    name = "survey.detractor"
    description = (
        "The member gave an NPS of 0-6 or a very low rating: a follow-up for support or a "
        "recovery campaign. The member is not asked for a public review."
    )

    survey_id: int
    survey_key: str
    response_id: int
    question: str
    kind: str
    score: int
    scale_max: int


@dataclass(frozen=True, kw_only=True)
class SurveyPromoter(Event):
    name = "survey.promoter"
    description = (
        "The member gave an NPS of 9-10 and no low score in the same survey: they may be asked "
        "for a review or a referral."
    )

    survey_id: int
    survey_key: str
    response_id: int
    score: int


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
)
BY_NAME: dict[str, type[Event]] = {t.name: t for t in EVENT_TYPES}


def event_type(name: str) -> type[Event]:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownEvent(f"no event is called {name!r}") from None


def decode(name: str, member_id: int | None, payload: Mapping[str, Any], version: int) -> Event:
    return event_type(name).from_payload(member_id, payload, version)
