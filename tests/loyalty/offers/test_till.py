"""Offers at the till through RecordPurchase: which apply, how groups combine (the same way
every time, explained), limits, the budget, stores, retries, events, the preview."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, select

from loyalty.core.clock import FixedClock
from loyalty.core.events import OfferExpired, OfferRedeemed
from loyalty.core.models import OutboxEvent
from loyalty.offers.models import MemberOffer, Offer
from loyalty.offers.service import OffersService
from loyalty.points.models import LedgerEntry
from loyalty.points.service import PointsService
from loyalty.storage.database import Database
from tests.loyalty.offers.programme import at, install_text
from tests.loyalty.offers.till_programme import (
    COFFEE_AND_CAKE,
    TILL_PROGRAMME,
    applications,
    buy,
    line,
)
from tests.loyalty.services import add_member

pytestmark = pytest.mark.asyncio

BASE = 75  # 7.50 at 10 points per euro


async def _setup(db: Database, clock: FixedClock, text: str = TILL_PROGRAMME) -> int:
    clock.set(at("2026-06-06T12:00:00+02:00"))
    await install_text(db, clock, text)
    return (await add_member(db, clock)).id


async def test_groups_combine_the_same_way_every_time_and_say_why(
    db: Database, clock: FixedClock
) -> None:
    member = await _setup(db, clock)
    seen = []
    for n in range(3):
        result = await buy(db, clock, member, f"sale-{n}")
        rows = await applications(db, result.purchase.id)
        seen.append({key: (row.points, row.discount, row.explanation) for key, row in rows.items()})
        assert result.purchase.points_earned == BASE + 120 + 40
    assert seen[0] == seen[1] == seen[2]
    assert set(seen[0]) == {"honderd-twintig", "koffie-dubbel", "gebak-korting"}
    assert seen[0]["honderd-twintig"][2] == (
        "honderd-twintig: best in group weekend: 120 points beats 80 points (tachtig)"
    )
    assert seen[0]["koffie-dubbel"][:2] == (40, Decimal("0.00"))
    assert "first in group koffie by priority 1 over koffie-tien" in seen[0]["koffie-dubbel"][2]
    assert seen[0]["gebak-korting"][:2] == (0, Decimal("1.00"))


async def test_offer_points_are_purchase_credits(db: Database, clock: FixedClock) -> None:
    member = await _setup(db, clock)
    result = await buy(db, clock, member, "sale-1")
    async with db.unit_of_work(write=False) as uow:
        entries = list(
            await uow.session.scalars(
                select(LedgerEntry).where(LedgerEntry.source_id == result.purchase.id)
            )
        )
    by_rule = {e.rule: e for e in entries}
    assert by_rule["offer:honderd-twintig"].points == 120
    assert by_rule["offer:honderd-twintig"].kind == "bonus"
    assert by_rule["offer:honderd-twintig"].source_type == "purchase"
    balance = await PointsService(db, clock).balance(member)
    assert balance.available == BASE + 160


async def test_a_retried_purchase_applies_nothing_twice(db: Database, clock: FixedClock) -> None:
    member = await _setup(db, clock)
    first = await buy(db, clock, member, "sale-1")
    again = await buy(db, clock, member, "sale-1")
    assert again.replayed and again.purchase.points_earned == first.purchase.points_earned
    async with db.unit_of_work(write=False) as uow:
        uses = {m.offer_id: m.uses for m in await uow.session.scalars(select(MemberOffer))}
    assert set(uses.values()) == {1}
    assert (await PointsService(db, clock).balance(member)).available == BASE + 160


async def test_store_bound_offer_applies_only_at_its_store(db: Database, clock: FixedClock) -> None:
    member = await _setup(db, clock)
    at_dam = await applications(
        db, (await buy(db, clock, member, "a", store="centrum")).purchase.id
    )
    elsewhere = await applications(
        db, (await buy(db, clock, member, "b", store="utrecht")).purchase.id
    )
    nowhere = await applications(db, (await buy(db, clock, member, "c")).purchase.id)
    assert "op-de-dam" in at_dam
    assert "op-de-dam" not in elsewhere and "op-de-dam" not in nowhere


async def test_clip_offer_applies_once_activated_and_per_member_limit(
    db: Database, clock: FixedClock
) -> None:
    text = TILL_PROGRAMME.replace(
        "    item: koekje\n    group: extra\n",
        "    item: koekje\n    group: extra\n    per_member_limit: 1\n",
    )
    member = await _setup(db, clock, text)
    koekje = [*COFFEE_AND_CAKE, line("koekje", "1.25", "gebak")]
    before = await applications(db, (await buy(db, clock, member, "a", koekje)).purchase.id)
    assert "gratis-koekje" not in before
    offer_id = await _offer_id(db, "gratis-koekje")
    await OffersService(db, clock).activate(member, offer_id)
    used = await applications(db, (await buy(db, clock, member, "b", koekje)).purchase.id)
    assert used["gratis-koekje"].discount == Decimal("1.25")
    again = await applications(db, (await buy(db, clock, member, "c", koekje)).purchase.id)
    assert "gratis-koekje" not in again
    view = await OffersService(db, clock).snapshot(member, offer_id)
    assert view is not None and view.state == "redeemed"
    events = await _events(db, member)
    assert ("offer.redeemed", offer_id) in events and ("offer.expired", offer_id) in events


async def test_budget_all_or_nothing_then_the_group_falls_back(
    db: Database, clock: FixedClock
) -> None:
    text = TILL_PROGRAMME.replace("    points: 120\n", "    points: 120\n    points_budget: 250\n")
    member = await _setup(db, clock, text)
    other = (await add_member(db, clock, "other@example.com")).id
    first = await applications(db, (await buy(db, clock, member, "a")).purchase.id)
    second = await applications(db, (await buy(db, clock, other, "b")).purchase.id)
    third = await applications(db, (await buy(db, clock, member, "c")).purchase.id)
    assert first["honderd-twintig"].applied and second["honderd-twintig"].applied
    # 10 points left: not enough for 120, so the group's next best applies, and the purchase
    # says why the better one was not given.
    assert third["tachtig"].applied and third["tachtig"].points == 80
    declined = third["honderd-twintig"]
    assert not declined.applied and declined.points == 0
    assert declined.explanation == (
        "honderd-twintig: not given: its budget has 10 points left, not enough for 120 "
        "(all or nothing)"
    )
    async with db.unit_of_work(write=False) as uow:
        offer = await uow.session.scalar(select(Offer).where(Offer.key == "honderd-twintig"))
    assert offer is not None and offer.points_budget_spent == 240
    events = await _events(db, other)
    assert ("offer.expired", offer.id) in events


async def test_first_purchase_offer_counts_the_purchase_itself_out(
    db: Database, clock: FixedClock
) -> None:
    text = TILL_PROGRAMME + (
        "  - key: welkom\n    title: Welkom\n    kind: bonus_points\n    points: 30\n"
        "    activation: auto\n    eligibility: {first_purchase: true}\n"
    )
    await _setup(db, clock, text)
    consenting = await add_member(db, clock, "c@example.com", consents={"personalisation": True})
    member = consenting.id
    first = await applications(db, (await buy(db, clock, member, "a")).purchase.id)
    second = await applications(db, (await buy(db, clock, member, "b")).purchase.id)
    assert "welkom" in first and "welkom" not in second


async def test_preview_shows_the_same_effects(db: Database, clock: FixedClock) -> None:
    from loyalty.offers.till_service import TillOffers
    from loyalty.points.service import MemberRef

    member = await _setup(db, clock)
    till = TillOffers(db, clock)
    preview = await till.preview(MemberRef(member_id=member), COFFEE_AND_CAKE, None, None)
    recorded = await applications(db, (await buy(db, clock, member, "a")).purchase.id)
    assert {
        a.offer.key: (a.points, a.discount, f"{a.offer.key}: {a.explanation}") for a in preview
    } == {key: (r.points, r.discount, r.explanation) for key, r in recorded.items()}


async def _offer_id(db: Database, key: str) -> int:
    async with db.unit_of_work(write=False) as uow:
        offer_id = await uow.session.scalar(select(Offer.id).where(Offer.key == key))
    assert offer_id is not None
    return offer_id


async def _events(db: Database, member_id: int) -> list[tuple[str, int]]:
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.member_id == member_id,
                OutboxEvent.topic.in_((OfferRedeemed.name, OfferExpired.name)),
            )
        )
        return [(row.topic, row.payload["offer_id"]) for row in rows]


async def test_offers_add_a_handful_of_statements_to_a_purchase(
    db: Database, clock: FixedClock
) -> None:
    member = await _setup(db, clock)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    engine = db.engine.sync_engine
    await buy(db, clock, member, "warm-up")  # the member's offer rows exist from now on
    event.listen(engine, "before_cursor_execute", record)
    try:
        await buy(db, clock, member, "counted")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    offers = [s for s in statements if "offer" in s.lower()]
    # The live offers, the member's offers, the lock, and per offer given (3 here) its
    # counters, the member's use and the application (one INSERT for all on PostgreSQL).
    assert len(offers) <= 4 + 3 * 3
    # The member's facts, the credits, the balance event and the purchase's totals besides.
    assert len(statements) <= 40
