"""Coupon codes of offers at the till (`RedeemCode`): a member's own code, or a shared code
with the member named, marks one use of the offer for that member.

The checks are the till's (`till.till_reason`, around `eligibility.decide`) at the moment the
code is taken; a shared code needs no activation (taking it is the member's first use), a
member's own code is their activation. Taking the use is `taking.take_one`, with the member's
account locked, so concurrent takes of one code count once per place. A coupon carries no
basket, so it gives no points and no amount here: the till gives the discount, and points
offers give their points through `RecordPurchase`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError
from loyalty.offers import taking
from loyalty.offers.catalogue import LIVE, PAUSED
from loyalty.offers.context import AppContext
from loyalty.offers.eligibility import Situation, spec_of
from loyalty.offers.errors import OffersError
from loyalty.offers.facts import member_facts
from loyalty.offers.models import MemberOffer, Offer, OfferApplication
from loyalty.offers.service import MESSAGES
from loyalty.offers.till import till_reason
from loyalty.offers.usage import emit_used
from loyalty.points import ledger
from loyalty.points.refs import MemberRef, resolve_member
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database

MAX_CODE = 64


@dataclass(frozen=True)
class CouponUse:
    application: OfferApplication
    offer: Offer
    uses_left: int | None  # None: no per-member limit


def refused(reason: OffersError, field: str = "code") -> DomainError:
    message = (
        MESSAGES.get(reason)
        or {
            OffersError.COUPON_NOT_FOUND: "No offer has this coupon code",
            OffersError.COUPON_MEMBER_REQUIRED: "A shared coupon code needs the member",
            OffersError.NOT_ACTIVATED: "This offer is not activated",
        }[reason]
    )
    return DomainError(reason, message, field)


def normalise(code: str) -> str | None:
    text = code.strip().upper()
    if not text or len(text) > MAX_CODE or not text.isprintable():
        return None
    return text


async def redeem_coupon(
    db: Database, code: str, member: MemberRef | None, actor: str, now: datetime
) -> CouponUse:
    """Take one use of the offer behind `code`, or refuse saying why (changing nothing)."""
    normalised = normalise(code)
    if normalised is None:
        raise refused(OffersError.COUPON_NOT_FOUND)
    async with db.unit_of_work() as uow:
        s = uow.session
        offer, mine, member_id = await _find(s, normalised, member)
        await ledger.lock_account(s, member_id, now)
        file = await current_file(s)
        mine = await _check(s, offer, member_id, file, now)
        await taking.lock_offers(s, [offer.id])
        taken = await taking.take_one(s, offer, mine, member_id, 0, now)
        if taken is None:
            limit = offer.per_member_limit
            used_up = mine is not None and limit is not None and mine.uses >= limit
            raise refused(OffersError.OFFER_USED_UP if used_up else OffersError.OFFER_LIMIT_REACHED)
        application = OfferApplication(
            offer_id=offer.id,
            offer_version=offer.version,
            member_id=member_id,
            purchase_id=None,
            applied=True,
            points=0,
            discount=0,
            points_reversed=0,
            explanation=f"{offer.key}: coupon {normalised} taken at the till ({actor})"[:240],
            coupon_code=normalised,
            applied_at=now,
        )
        s.add(application)
        emit_used(s, offer, taken, None, 0, application.discount, now)
        await s.flush()
        await uow.commit()
    limit = offer.per_member_limit
    return CouponUse(application, offer, None if limit is None else max(limit - taken.uses, 0))


async def _find(
    s: AsyncSession, code: str, member: MemberRef | None
) -> tuple[Offer, MemberOffer | None, int]:
    """The offer behind the code, the member's activation (a member's own code) and who."""
    mine = await s.scalar(select(MemberOffer).where(MemberOffer.coupon_code == code))
    if mine is not None:
        if member is not None and (await resolve_member(s, member)).id != mine.member_id:
            raise refused(OffersError.COUPON_NOT_FOUND)
        offer = await s.get(Offer, mine.offer_id)
        assert offer is not None  # a foreign key
        return offer, mine, mine.member_id
    for offer in await s.scalars(select(Offer).where(Offer.state.in_((LIVE, PAUSED)))):
        if spec_of(offer).shared_code == code:
            if member is None:
                raise refused(OffersError.COUPON_MEMBER_REQUIRED, "member")
            return offer, None, (await resolve_member(s, member)).id
    raise refused(OffersError.COUPON_NOT_FOUND)


async def _check(
    s: AsyncSession, offer: Offer, member_id: int, file: ProgrammeFile, now: datetime
) -> MemberOffer | None:
    """The till's checks now; returns the member's activation as read under the lock."""
    facts = await member_facts(s, member_id, file, now, [offer.id])
    mine = facts.activations.get(offer.id)
    if mine is None:
        # Taking a shared code is the first use: no activation needed.
        facts = replace(facts, activations={})
    stores = {store.key: store for store in file.stores}
    where = Situation(now, AppContext(), stores, file.programme.zone)
    spec = spec_of(offer)
    reason = till_reason(offer, spec, facts, where, None, activated=spec.shared_code is None)
    if reason is not None:
        raise refused(reason)
    return mine
