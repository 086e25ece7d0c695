"""Offers' coupon codes taken at the till: a member's own code, a shared code with the
member named; every refusal has a stable code and changes nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.core.models import OutboxEvent
from loyalty.offers.errors import OffersError
from loyalty.offers.models import MemberOffer, Offer, OfferApplication
from loyalty.offers.service import OffersService
from loyalty.offers.till_service import TillOffers
from loyalty.points.errors import PointsError
from loyalty.points.service import MemberRef
from loyalty.storage.database import Database
from tests.loyalty.offers.programme import at, install_text
from tests.loyalty.offers.till_programme import TILL_PROGRAMME
from tests.loyalty.services import add_member, set_status

pytestmark = pytest.mark.asyncio

COUPONS = (
    TILL_PROGRAMME
    + """\
  - key: taart-code
    title: 2 euro op taart
    kind: amount_off
    amount: "2.00"
    coupon: {shared: TAART2}
    per_member_limit: 1
  - key: eigen-code
    title: Eigen code
    kind: percent_off
    percent: 15
    coupon: per_member
    per_member_limit: 2
  - key: voorbij
    title: Voorbij
    kind: amount_off
    amount: "1.00"
    coupon: {shared: OUD1}
    valid_until: 2026-01-01T00:00:00+01:00
  - key: schaars
    title: Schaars
    kind: amount_off
    amount: "1.00"
    coupon: {shared: SCHAARS}
    global_limit: 1
"""
)


async def _state(db: Database) -> tuple[int, int, int, int]:
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        return (
            await s.scalar(select(func.count()).select_from(OfferApplication)) or 0,
            await s.scalar(select(func.sum(MemberOffer.uses))) or 0,
            await s.scalar(select(func.sum(Offer.activated_count))) or 0,
            await s.scalar(select(func.count()).select_from(OutboxEvent)) or 0,
        )


async def _refused(till: TillOffers, code: str, member: MemberRef | None) -> object:
    with pytest.raises(DomainError) as caught:
        await till.redeem_coupon(code, member, "till 1")
    return caught.value.code


async def test_shared_and_own_codes(db: Database, clock: FixedClock) -> None:
    clock.set(at("2026-06-06T12:00:00+02:00"))
    await install_text(db, clock, COUPONS)
    member = (await add_member(db, clock)).id
    ref = MemberRef(member_id=member)
    till = TillOffers(db, clock)

    used = await till.redeem_coupon(" taart2 ", ref, "till 1")
    assert used.offer.key == "taart-code" and used.uses_left == 0
    assert used.application.coupon_code == "TAART2"

    offers = OffersService(db, clock)
    async with db.unit_of_work(write=False) as uow:
        own_id = await uow.session.scalar(select(Offer.id).where(Offer.key == "eigen-code"))
    assert own_id is not None
    view = await offers.activate(member, own_id)
    assert view.coupon_code is not None
    first = await till.redeem_coupon(view.coupon_code, None, "till 1")
    assert first.uses_left == 1
    await till.redeem_coupon(view.coupon_code, ref, "till 1")
    snapshot = await offers.snapshot(member, own_id)
    assert snapshot is not None and snapshot.state == "redeemed"


async def test_refusals_have_stable_codes_and_change_nothing(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2026-06-06T12:00:00+02:00"))
    await install_text(db, clock, COUPONS)
    member = (await add_member(db, clock)).id
    other = (await add_member(db, clock, "other@example.com")).id
    ref = MemberRef(member_id=member)
    till = TillOffers(db, clock)
    await till.redeem_coupon("TAART2", ref, "till 1")
    await till.redeem_coupon("SCHAARS", MemberRef(member_id=other), "till 1")
    async with db.unit_of_work(write=False) as uow:
        own_id = await uow.session.scalar(select(Offer.id).where(Offer.key == "eigen-code"))
    assert own_id is not None
    own = (await OffersService(db, clock).activate(member, own_id)).coupon_code
    assert own is not None
    blocked = (await add_member(db, clock, "blocked@example.com")).id
    await set_status(db, blocked, "blocked")
    before = await _state(db)
    cases = [
        ("NOPE-NOPE", ref, OffersError.COUPON_NOT_FOUND),
        ("", ref, OffersError.COUPON_NOT_FOUND),
        ("X" * 100, ref, OffersError.COUPON_NOT_FOUND),
        ("TAART2", None, OffersError.COUPON_MEMBER_REQUIRED),
        ("TAART2", ref, OffersError.OFFER_USED_UP),
        ("OUD1", ref, OffersError.OFFER_EXPIRED),
        ("SCHAARS", ref, OffersError.OFFER_LIMIT_REACHED),
        (own, MemberRef(member_id=other), OffersError.COUPON_NOT_FOUND),
        ("TAART2", MemberRef(member_id=blocked), OffersError.MEMBER_NOT_ACTIVE),
        ("TAART2", MemberRef(), PointsError.INVALID_MEMBER_REFERENCE),
    ]
    for code, who, expected in cases:
        assert await _refused(till, code, who) == expected, code
    assert await _state(db) == before


async def test_a_shared_code_counts_once_per_place_under_concurrency(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2026-06-06T12:00:00+02:00"))
    await install_text(db, clock, COUPONS)
    member = (await add_member(db, clock)).id
    till = TillOffers(db, clock)

    async def take() -> object:
        try:
            await till.redeem_coupon("TAART2", MemberRef(member_id=member), "till 1")
        except DomainError as exc:
            return exc.code
        return None

    results = await asyncio.gather(*(take() for _ in range(6)))
    assert sorted(map(str, results)) == sorted(["None"] + ["OFFER_USED_UP"] * 5)
