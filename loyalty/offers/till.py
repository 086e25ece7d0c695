"""Offers at the till: which of the member's offers a purchase gets, and giving them.

The member's activated ("clip") offers and the automatic ("auto") offers they may have are
judged with `eligibility.decide` at the purchase's time, exactly as the app's list judges
them; at the till the member is at the purchase's store (an offer bound to stores fits only a
purchase at one of them). Their effects (`effects.py`) combine by group (`combine.py`). The
preview asks the same question and changes nothing.

Taking an offer is all or nothing and never overshoots: the offer rows are locked in id order
(no deadlock between two purchases), then one conditional UPDATE each takes the member's use
(`uses < per_member_limit`), a place of the global limit (auto offers, at their first use)
and the points from the budget (`spent + points <= budget`). A points effect the budget cannot
cover in full is not given, the same rule the app's list applies (a bonus is shown only while
the budget covers it); a group then falls back to its next candidate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core import probes
from loyalty.offers import taking
from loyalty.offers.catalogue import LIVE
from loyalty.offers.combine import Candidate, Slot, combine, offer_ids
from loyalty.offers.context import AppContext
from loyalty.offers.effects import effect
from loyalty.offers.eligibility import Situation, decide, spec_of
from loyalty.offers.errors import OffersError
from loyalty.offers.facts import MemberFacts, member_facts
from loyalty.offers.models import MemberOffer, Offer, OfferApplication
from loyalty.offers.usage import emit_used
from loyalty.points import earning, ledger
from loyalty.points.balances import balance_event
from loyalty.points.models import PointAccount, Purchase
from loyalty.points.timeline import lot_expiry, purchase_available_at
from loyalty.programme.offers_spec import OfferSpec
from loyalty.programme.spec import ProgrammeFile

REDEEMED = "redeemed"
# decide() says ALREADY_ACTIVATED for an offer the member holds: at the till that is the point.
_FITS = (None, OffersError.ALREADY_ACTIVATED)


@dataclass(frozen=True)
class TillBasket:
    """A purchase as the offers see it."""

    member_id: int
    at: datetime
    store: str | None
    lines: Sequence[earning.BasketLine]
    purchase_id: int | None = None  # None: a preview


@dataclass(frozen=True)
class Plan:
    slots: list[Slot]
    offers: dict[int, Offer]
    activations: dict[int, MemberOffer]  # the member's, by offer id
    declined: list[Applied]  # offers the budget no longer covers, with why


@dataclass(frozen=True)
class Applied:
    """One offer given on a purchase (or that a preview would give)."""

    offer: Offer
    points: int
    discount: Decimal
    explanation: str
    given: bool = True  # False: it would have applied, but its budget or limit did not allow


def basket_of(purchase: Purchase) -> TillBasket:
    lines = [
        earning.BasketLine(
            line["sku"], line["category"], Decimal(line["quantity"]), Decimal(line["unit_price"])
        )
        for line in purchase.lines
    ]
    return TillBasket(purchase.member_id, purchase.occurred_at, purchase.store, lines, purchase.id)


def _situation(file: ProgrammeFile, basket: TillBasket) -> Situation:
    stores = {store.key: store for store in file.stores}
    store = stores.get(basket.store or "")
    context = AppContext(store.latitude, store.longitude) if store else AppContext()
    return Situation(basket.at, context, stores, file.programme.zone)


def till_reason(
    offer: Offer,
    spec: OfferSpec,
    facts: MemberFacts,
    where: Situation,
    store: str | None,
    activated: bool = True,
) -> OffersError | None:
    """Why the offer does not apply at this till now (None: it does, effects aside).
    `activated=False`: a clip offer needs no activation (a shared coupon code is shown)."""
    mine = facts.activations.get(offer.id)
    if activated and offer.activation != "auto" and mine is None:
        return OffersError.NOT_ACTIVATED
    reason = decide(offer, facts, where).reason
    if reason not in _FITS:
        return reason
    if spec.context.stores and store not in spec.context.stores:
        return OffersError.NOT_IN_CONTEXT
    limit = offer.per_member_limit
    if mine is not None and (mine.state == REDEEMED or (limit is not None and mine.uses >= limit)):
        return OffersError.OFFER_USED_UP
    return None


# Whether any offer is live, asked where a purchase locks the account (`core.probes`).
ANY_LIVE = "offers.any_live"
probes.register(ANY_LIVE, lambda _member: exists().where(Offer.state == LIVE))


async def plan(s: AsyncSession, basket: TillBasket, file: ProgrammeFile) -> Plan:
    """The member's offers that fit this basket, combined by group."""
    if probes.answer(s, ANY_LIVE, basket.member_id) is False:
        return Plan([], {}, {}, [])
    live = list(await s.scalars(select(Offer).where(Offer.state == LIVE).order_by(Offer.id)))
    if not live:
        return Plan([], {}, {}, [])
    facts = await member_facts(s, basket.member_id, file, basket.at)
    if any(spec_of(offer).eligibility.first_purchase for offer in live):
        # "First purchase" means before this one.
        earlier = select(Purchase.id).where(Purchase.member_id == basket.member_id)
        if basket.purchase_id is not None:
            earlier = earlier.where(Purchase.id != basket.purchase_id)
        bought = await s.scalar(earlier.limit(1)) is not None
        facts = dataclasses.replace(facts, has_purchased=bought)
    where = _situation(file, basket)
    offers: dict[int, Offer] = {}
    candidates: list[Candidate] = []
    declined: list[Applied] = []
    for offer in live:
        spec = spec_of(offer)
        reason = till_reason(offer, spec, facts, where, basket.store)
        if reason not in (None, OffersError.BUDGET_SPENT):
            continue
        gives = effect(spec, basket.lines, file.earning)
        if gives.empty:
            continue
        if reason is not None or not taking.covers(offer, gives.points):
            declined.append(_declined(offer, gives.points))
            continue
        offers[offer.id] = offer
        worth = gives.discount + gives.points * file.programme.point_value
        candidates.append(
            Candidate(
                offer.id, offer.key, spec.group, spec.priority, gives.points, gives.discount, worth
            )
        )
    rules = {group.key: group.rule for group in file.offer_groups}
    return Plan(combine(candidates, rules), offers, facts.activations, declined)


def _declined(offer: Offer, points: int) -> Applied:
    left = max((offer.points_budget or 0) - offer.points_budget_spent, 0)
    why = f"not given: its budget has {left} points left, not enough for {points} (all or nothing)"
    return Applied(offer, 0, Decimal(0), why, given=False)


def preview(planned: Plan) -> list[Applied]:
    """What the plan would give if every first choice can still be taken, and what the
    budget would not cover."""
    return [
        Applied(
            planned.offers[slot.candidates[0].offer_id],
            slot.candidates[0].points,
            slot.candidates[0].discount,
            slot.explain(slot.candidates[0]),
        )
        for slot in planned.slots
    ] + planned.declined


async def take(
    s: AsyncSession, planned: Plan, member_id: int, now: datetime
) -> list[tuple[Applied, MemberOffer]]:
    """Take every slot's first candidate that its limits and budget allow; those that ran
    out meanwhile are added to the plan's declined ones."""
    await taking.lock_offers(s, offer_ids(planned.slots))
    given: list[tuple[Applied, MemberOffer]] = []
    for slot in planned.slots:
        for candidate in slot.candidates:
            offer = planned.offers[candidate.offer_id]
            held = planned.activations.get(offer.id)
            mine = await taking.take_one(s, offer, held, member_id, candidate.points, now)
            if mine is None:
                why = "not given: its limit or budget ran out just before"
                planned.declined.append(Applied(offer, 0, Decimal(0), why, given=False))
                continue
            applied = Applied(offer, candidate.points, candidate.discount, slot.explain(candidate))
            given.append((applied, mine))
            break
    return given


async def apply_to_purchase(
    s: AsyncSession, purchase: Purchase, file: ProgrammeFile, now: datetime
) -> list[OfferApplication]:
    """Give the purchase its offers, in the purchase's unit of work: the points as credits of
    the purchase (pending, spendable and expiring like its own, counted for tiers), a row per
    offer given, the purchase's totals, and the offer events for the member."""
    planned = await plan(s, basket_of(purchase), file)
    if not planned.slots and not planned.declined:
        return []
    given = await take(s, planned, purchase.member_id, now)
    rows = [_row(purchase, applied, mine.coupon_code, now) for applied, mine in given] + [
        _row(purchase, declined, None, now) for declined in planned.declined
    ]
    s.add_all(rows)
    await _credit(s, purchase, [applied for applied, _ in given], file, now)
    for applied, mine in given:
        emit_used(s, applied.offer, mine, purchase.id, applied.points, applied.discount, now)
    await s.flush()
    return rows


def _row(
    purchase: Purchase, applied: Applied, coupon_code: str | None, now: datetime
) -> OfferApplication:
    return OfferApplication(
        offer_id=applied.offer.id,
        offer_version=applied.offer.version,
        member_id=purchase.member_id,
        purchase_id=purchase.id,
        applied=applied.given,
        points=applied.points,
        discount=applied.discount,
        points_reversed=0,
        explanation=f"{applied.offer.key}: {applied.explanation}"[:240],
        coupon_code=coupon_code,
        applied_at=now,
    )


async def _credit(
    s: AsyncSession, purchase: Purchase, given: list[Applied], file: ProgrammeFile, now: datetime
) -> None:
    credits = [
        ledger.Credit(
            "bonus",
            applied.points,
            ledger.EntryMeta(
                f"Offer: {applied.offer.title}"[:200],
                source_type="purchase",
                source_id=purchase.id,
                rule=f"offer:{applied.offer.key}"[:63],
            ),
        )
        for applied in given
        if applied.points > 0
    ]
    if not credits:
        return
    zone = file.programme.zone
    at = purchase.occurred_at
    available_at = purchase_available_at(file.points, at, zone)
    # Locked by the purchase a moment ago, in this transaction.
    account = await s.get(PointAccount, purchase.member_id) or await ledger.lock_account(
        s, purchase.member_id, now
    )
    entries = await ledger.credit_many(
        s,
        account,
        credits,
        occurred_at=at,
        now=now,
        available_at=available_at,
        expires_at=lot_expiry(file.points, at, available_at, zone),
        purchase_id=purchase.id,
    )
    points = sum(credit.points for credit in credits)
    purchase.points_earned += points
    if available_at > now:
        purchase.points_pending += points
    await balance_event(s, purchase.member_id, entries, now)
