"""Offers that come and go with segments: when a member enters a segment that an offer is
for and may now have the offer, they hear `offer.granted`; when they leave it and lose an
offer they had not activated, `offer.expired`. Both reach the app's `offersChanged`.

Whether the member may have the offer is `eligibility.decide`, the check that listing and
activation use, as of the moment of the segment change; only the app's context (where and
when the member is) is left out, since the app reports it when it lists.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import (
    Event,
    OfferExpired,
    OfferGranted,
    Recorded,
    SegmentEntered,
    SegmentLeft,
)
from loyalty.core.outbox import emit
from loyalty.offers.catalogue import LIVE
from loyalty.offers.context import NO_CONTEXT
from loyalty.offers.eligibility import Situation, decide, spec_of
from loyalty.offers.errors import OffersError
from loyalty.offers.facts import member_facts
from loyalty.offers.models import Offer
from loyalty.programme.store import current_file

# Reasons that still mean "the member may have it": the context is the app's to report.
AVAILABLE = (None, OffersError.NOT_IN_CONTEXT)


async def _offers_for(s: AsyncSession, segment_key: str) -> list[Offer]:
    live = await s.scalars(select(Offer).where(Offer.state == LIVE).order_by(Offer.id))
    return [o for o in live if segment_key in spec_of(o).eligibility.segments]


async def segment_changed(s: AsyncSession, recorded: Recorded[Event]) -> None:
    event, now = recorded.event, recorded.occurred_at
    if not isinstance(event, SegmentEntered | SegmentLeft) or event.member_id is None:
        return
    offers = await _offers_for(s, event.segment_key)
    if not offers:
        return
    file = await current_file(s)
    facts = await member_facts(s, event.member_id, file, now, [o.id for o in offers])
    where = Situation(now, NO_CONTEXT, {st.key: st for st in file.stores}, file.programme.zone)
    entered = isinstance(event, SegmentEntered)
    for offer in offers:
        reason = decide(offer, facts, where).reason
        if entered and reason in AVAILABLE:
            granted = OfferGranted(
                member_id=event.member_id,
                offer_id=offer.id,
                offer_key=offer.key,
                reason=f"entered segment {event.segment_key}",
            )
            emit(s, granted, now)
        elif not entered and reason == OffersError.NOT_ELIGIBLE:
            expired = OfferExpired(
                member_id=event.member_id,
                offer_id=offer.id,
                offer_key=offer.key,
                reason=f"left segment {event.segment_key}",
            )
            emit(s, expired, now)
