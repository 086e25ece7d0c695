"""Events of offers, segments and surveys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loyalty.core.event_base import Event


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
