"""Offers for a member: the list they see (with their state for each), and activation.

Both ask `eligibility.decide`, so what is listed as available activates. Activation takes
one place of the offer's global limit with a conditional UPDATE (`activated_count <
global_limit`), so however many members activate at once the limit is never overshot; the
member's activation is unique per offer, so a retry finds the first and changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError
from loyalty.core.events import OfferActivated
from loyalty.core.outbox import emit
from loyalty.offers.announce import LIMIT_REACHED, offer_went
from loyalty.offers.catalogue import LIVE
from loyalty.offers.context import NO_CONTEXT, AppContext
from loyalty.offers.eligibility import Situation, Verdict, decide, spec_of
from loyalty.offers.errors import OffersError
from loyalty.offers.facts import MemberFacts, member_facts
from loyalty.offers.history import NO_HISTORY, buying_history
from loyalty.offers.models import MemberOffer, Offer
from loyalty.offers.ranking import RankingInputs, Score, ranked, score
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database

AVAILABLE, ACTIVATED, REDEEMED, EXPIRED = "available", "activated", "redeemed", "expired"
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"

MESSAGES = {
    OffersError.OFFER_NOT_FOUND: "There is no such offer",
    OffersError.OFFER_NOT_STARTED: "This offer has not started yet",
    OffersError.OFFER_EXPIRED: "This offer has ended",
    OffersError.OFFER_PAUSED: "This offer is paused",
    OffersError.MEMBER_NOT_ACTIVE: "This member is blocked or closed",
    OffersError.PERSONALISATION_REQUIRED: "This offer needs your consent to personalisation",
    OffersError.NOT_ELIGIBLE: "This offer is not for you",
    OffersError.NOT_IN_CONTEXT: "This offer does not fit where or when you are",
    OffersError.ALREADY_ACTIVATED: "You have already activated this offer",
    OffersError.OFFER_USED_UP: "You have used this offer as often as it allows",
    OffersError.OFFER_LIMIT_REACHED: "This offer has run out",
    OffersError.BUDGET_SPENT: "This offer's budget is spent",
}


@dataclass(frozen=True)
class MemberOfferView:
    """An offer as one member sees it: its state for them and their coupon code."""

    offer: Offer
    state: str
    coupon_code: str | None
    # Why it comes where it does in the member's list (None outside a ranked list).
    score: Score | None = None


@dataclass(frozen=True)
class Rank:
    """A place in a ranked list: the score's total and the offer id (the tie-breaker)."""

    total: float
    offer_id: int


def refusal(reason: OffersError) -> DomainError:
    return DomainError(reason, MESSAGES[reason], "offerId")


def per_member_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def _view(offer: Offer, mine: MemberOffer | None, rank: Score | None = None) -> MemberOfferView:
    if mine is None:
        return MemberOfferView(offer, AVAILABLE, None, rank)
    limit = offer.per_member_limit
    used_up = mine.state == REDEEMED or (limit is not None and mine.uses >= limit)
    code = mine.coupon_code or spec_of(offer).shared_code
    return MemberOfferView(offer, REDEEMED if used_up else ACTIVATED, code, rank)


def _shown(offer: Offer, facts: MemberFacts, verdict: Verdict, now: datetime) -> bool:
    """Available offers, and those the member activated while the offer still runs."""
    if verdict.allowed:
        return True
    if offer.id not in facts.activations or offer.state != LIVE:
        return False
    return offer.valid_until is None or now < offer.valid_until


def _situation(file: ProgrammeFile, now: datetime, context: AppContext) -> Situation:
    return Situation(now, context, {store.key: store for store in file.stores}, file.programme.zone)


# Built once: the app's home screen lists offers on every request.
_LIVE = select(Offer).where(
    Offer.state == LIVE,
    or_(Offer.valid_until.is_(None), Offer.valid_until > bindparam("now")),
)


class OffersService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def offers(
        self,
        member_id: int,
        context: AppContext = NO_CONTEXT,
        limit: int | None = None,
        after: Rank | None = None,
    ) -> list[MemberOfferView]:
        """The offers this member sees now, best first (`ranking`), each with its score;
        `after` continues after that place in the order and `limit` bounds the page."""
        now = self.clock.now()
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            file = await current_file(s)
            live = await s.scalars(_LIVE, {"now": now})
            facts = await member_facts(s, member_id, file, now)
            where = _situation(file, now, context)
            shown = [o for o in live if _shown(o, facts, decide(o, facts, where), now)]
            history = await buying_history(s, member_id, now) if shown else NO_HISTORY
        inputs = RankingInputs(
            where, history, file.earning.base.points_per_unit, frozenset(facts.activations)
        )
        order = ranked([(score(o, spec_of(o), inputs), o) for o in shown])
        views = [
            _view(offer, facts.activations.get(offer.id), rank)
            for rank, offer in order
            if after is None or (-rank.total, offer.id) > (-after.total, after.offer_id)
        ]
        return views if limit is None else views[:limit]

    async def offer(
        self, member_id: int, offer_id: int, context: AppContext = NO_CONTEXT
    ) -> MemberOfferView | None:
        """One offer as this member sees it now, or None when it is not shown to them."""
        now = self.clock.now()
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            offer = await s.get(Offer, offer_id)
            if offer is None:
                return None
            file = await current_file(s)
            facts = await member_facts(s, member_id, file, now, [offer_id])
        verdict = decide(offer, facts, _situation(file, now, context))
        if not _shown(offer, facts, verdict, now):
            return None
        return _view(offer, facts.activations.get(offer_id))

    async def for_everyone(
        self, member_id: int, offer_id: int, granted: bool
    ) -> MemberOfferView | None:
        """What an offer made available to (`granted`) or taken from everyone means for this
        member: the offer when it is now shown to them (granted) or no longer is (taken), None
        when nothing changes for them. Members holding an activation hear of it by their own
        events, so they get None here."""
        now = self.clock.now()
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            offer = await s.get(Offer, offer_id)
            if offer is None:
                return None
            file = await current_file(s)
            facts = await member_facts(s, member_id, file, now, [offer_id])
        if offer_id in facts.activations:
            return None
        # Where the member is comes with their next list; here only who they are counts.
        reason = decide(offer, facts, _situation(file, now, NO_CONTEXT)).reason
        shown = reason in (None, OffersError.NOT_IN_CONTEXT)
        if granted:
            return _view(offer, None) if shown else None
        return None if shown else MemberOfferView(offer, EXPIRED, None)

    async def snapshot(self, member_id: int, offer_id: int) -> MemberOfferView | None:
        """The offer and this member's activation as they are now, listed or not: what a live
        update about the offer shows the app (an offer that no longer runs is EXPIRED)."""
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            offer = await s.get(Offer, offer_id)
            if offer is None:
                return None
            mine = await s.scalar(
                select(MemberOffer).where(
                    MemberOffer.member_id == member_id, MemberOffer.offer_id == offer_id
                )
            )
        view = _view(offer, mine)
        now = self.clock.now()
        if offer.state != LIVE or (offer.valid_until is not None and now >= offer.valid_until):
            return MemberOfferView(offer, EXPIRED, view.coupon_code)
        return view

    async def activate(
        self, member_id: int, offer_id: int, context: AppContext = NO_CONTEXT
    ) -> MemberOfferView:
        """Activate (clip) the offer for the member, or refuse with the first check that
        fails; a refusal changes nothing."""
        try:
            return await self._activate(member_id, offer_id, context)
        except IntegrityError:
            # The same member activated the same offer at the same moment: the first wins.
            raise refusal(OffersError.ALREADY_ACTIVATED) from None

    async def _activate(
        self, member_id: int, offer_id: int, context: AppContext
    ) -> MemberOfferView:
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            offer = await s.get(Offer, offer_id, populate_existing=True)
            if offer is None:
                raise refusal(OffersError.OFFER_NOT_FOUND)
            file = await current_file(s)
            facts = await member_facts(s, member_id, file, now, [offer_id])
            verdict = decide(offer, facts, _situation(file, now, context))
            if verdict.reason is not None:
                raise refusal(verdict.reason)
            await _take_place(s, offer, now)
            mine = await add_activation(s, offer, member_id, now)
            event = OfferActivated(
                member_id=member_id,
                offer_id=offer.id,
                offer_key=offer.key,
                offer_version=offer.version,
                coupon_code=mine.coupon_code,
            )
            emit(s, event, now)
            await uow.commit()
        return _view(offer, mine)


def _coupon(offer: Offer) -> str | None:
    spec = spec_of(offer)
    if spec.coupon_mode == "per_member":
        return per_member_code()
    # A shared code is the offer's, not the activation's (the column is unique).
    return None


async def _take_place(s: AsyncSession, offer: Offer, now: datetime) -> None:
    """One place of the global limit, taken atomically: the UPDATE counts only while places
    are left, so concurrent activations cannot overshoot."""
    result = await s.execute(
        update(Offer)
        .where(
            Offer.id == offer.id,
            or_(Offer.global_limit.is_(None), Offer.activated_count < Offer.global_limit),
        )
        .values(activated_count=Offer.activated_count + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise refusal(OffersError.OFFER_LIMIT_REACHED)
    await s.refresh(offer)
    if offer.global_limit is not None and offer.activated_count == offer.global_limit:
        offer_went(s, offer, LIMIT_REACHED, now)  # the last place: nobody new may have it


async def add_activation(
    s: AsyncSession, offer: Offer, member_id: int, now: datetime
) -> MemberOffer:
    """The member's row for an offer activated now (its limits and budget already taken)."""
    mine = MemberOffer(
        member_id=member_id,
        offer_id=offer.id,
        offer_version=offer.version,
        state=ACTIVATED,
        uses=0,
        coupon_code=_coupon(offer),
        activated_at=now,
        updated_at=now,
    )
    s.add(mine)
    await s.flush()
    return mine
