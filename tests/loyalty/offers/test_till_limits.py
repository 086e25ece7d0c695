"""Offers at the till under pressure and afterwards: the points budget and the per-member
limit under concurrent purchases, returns taking offer points back in proportion and once,
tiers counting offer points."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from loyalty.core.clock import FixedClock
from loyalty.core.events import TierChanged
from loyalty.core.models import OutboxEvent
from loyalty.offers.models import MemberOffer, Offer, OfferApplication
from loyalty.offers.service import OffersService
from loyalty.points.models import LedgerEntry
from loyalty.points.service import PointsService, ReturnInput, ReturnLine
from loyalty.storage.database import Database
from tests.loyalty.offers.programme import at, install_text
from tests.loyalty.offers.till_programme import TILL_PROGRAMME, applications, buy, line
from tests.loyalty.services import add_member

pytestmark = pytest.mark.asyncio


async def _offer(db: Database, key: str) -> Offer:
    async with db.unit_of_work(write=False) as uow:
        offer = await uow.session.scalar(select(Offer).where(Offer.key == key))
    assert offer is not None
    return offer


async def _install(db: Database, clock: FixedClock, text: str) -> None:
    clock.set(at("2026-06-06T12:00:00+02:00"))
    await install_text(db, clock, text)


async def test_concurrent_purchases_never_overspend_the_budget(
    db: Database, clock: FixedClock
) -> None:
    text = TILL_PROGRAMME.replace("    points: 120\n", "    points: 120\n    points_budget: 1200\n")
    await _install(db, clock, text)
    members = [await add_member(db, clock, f"m{n}@example.com") for n in range(50)]
    await asyncio.gather(*(buy(db, clock, m.id, f"sale-{m.id}") for m in members))
    offer = await _offer(db, "honderd-twintig")
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        given = await s.scalar(
            select(func.count()).where(
                OfferApplication.offer_id == offer.id, OfferApplication.applied.is_(True)
            )
        )
        credited = await s.scalar(
            select(func.sum(LedgerEntry.points)).where(LedgerEntry.rule == "offer:honderd-twintig")
        )
        fallback = await s.scalar(
            select(func.count())
            .select_from(OfferApplication)
            .join(Offer, Offer.id == OfferApplication.offer_id)
            .where(Offer.key == "tachtig")
        )
    assert given == 10 and credited == 1200 and offer.points_budget_spent == 1200
    assert fallback == 40  # the rest got the group's next best


async def test_per_member_limit_under_concurrent_retries_and_purchases(
    db: Database, clock: FixedClock
) -> None:
    text = TILL_PROGRAMME.replace(
        "    item: koekje\n    group: extra\n",
        "    item: koekje\n    group: extra\n    per_member_limit: 2\n",
    )
    await _install(db, clock, text)
    member = (await add_member(db, clock)).id
    offer = await _offer(db, "gratis-koekje")
    await OffersService(db, clock).activate(member, offer.id)
    basket = [line("latte", "4.00", "koffie"), line("koekje", "1.25", "gebak")]
    retries = await asyncio.gather(*(buy(db, clock, member, "same", basket) for _ in range(8)))
    assert len({r.purchase.id for r in retries}) == 1
    await asyncio.gather(*(buy(db, clock, member, f"other-{n}", basket) for n in range(8)))
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        given = await s.scalar(select(func.count()).where(OfferApplication.offer_id == offer.id))
        mine = await s.scalar(select(MemberOffer).where(MemberOffer.offer_id == offer.id))
    assert given == 2
    assert mine is not None and mine.uses == 2 and mine.state == "redeemed"


async def test_returns_take_offer_points_back_in_proportion_and_once(
    db: Database, clock: FixedClock
) -> None:
    await _install(db, clock, TILL_PROGRAMME)
    member = (await add_member(db, clock)).id
    purchase = (await buy(db, clock, member, "sale")).purchase
    assert purchase.points_earned == 235
    points = PointsService(db, clock)
    latte = ReturnInput("sale", "r1", [ReturnLine("latte", line("latte", "4").quantity)])
    first = await points.record_return(latte)
    again = await points.record_return(latte)
    assert first.points_reversed == 125  # 235 x 4.00 / 7.50, rounded
    assert again.replayed and again.points_reversed == 125
    rows = await applications(db, purchase.id)
    assert rows["honderd-twintig"].points_reversed == 64  # 120 x 4 / 7.5
    assert rows["koffie-dubbel"].points_reversed == 21
    rest = await points.record_return(
        ReturnInput("sale", "r2", [ReturnLine("taart", line("taart", "3.5").quantity)])
    )
    assert rest.points_reversed == 110
    rows = await applications(db, purchase.id)
    assert {k: r.points_reversed for k, r in rows.items()} == {
        "honderd-twintig": 120,
        "koffie-dubbel": 40,
        "gebak-korting": 0,
    }
    assert (await points.balance(member)).available == 0


async def test_tiers_count_offer_points_in_one_step(db: Database, clock: FixedClock) -> None:
    tiers = (
        "tiers:\n  levels:\n    - {key: brons, name: Brons, threshold: 0}\n"
        "    - {key: zilver, name: Zilver, threshold: 100}\n"
        "    - {key: goud, name: Goud, threshold: 200}\n"
    )
    await _install(db, clock, TILL_PROGRAMME + tiers)
    member = (await add_member(db, clock)).id
    await buy(db, clock, member, "sale")  # 75 base + 160 from offers
    async with db.unit_of_work(write=False) as uow:
        changes = list(
            await uow.session.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.member_id == member, OutboxEvent.topic == TierChanged.name
                )
            )
        )
    assert [c["to"] for c in changes] == ["goud"]
