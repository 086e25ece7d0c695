"""A programme with offers that apply at the till, and shortcuts to buy and return."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.offers.models import Offer, OfferApplication
from loyalty.points.service import (
    MemberRef,
    PointsService,
    PurchaseInput,
    PurchaseLine,
    PurchaseResult,
)
from loyalty.storage.database import Database

TILL_PROGRAMME = """\
programme:
  key: till-test
  name: Koffiebar Trouw
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
earning:
  base: {points_per_unit: 10}
categories: [koffie, gebak, bonen]
stores:
  - {key: centrum, name: Dam, latitude: 52.3731, longitude: 4.8922}
  - {key: utrecht, name: Utrecht, latitude: 52.0907, longitude: 5.1214}
offer_groups:
  - {key: weekend, rule: best}
  - {key: koffie, rule: first}
  - {key: extra, rule: stack}
offers:
  - key: honderd-twintig
    title: 120 extra punten
    kind: bonus_points
    points: 120
    activation: auto
    group: weekend
  - key: tachtig
    title: 80 extra punten
    kind: bonus_points
    points: 80
    activation: auto
    group: weekend
    priority: 5
  - key: koffie-dubbel
    title: Dubbele punten op koffie
    kind: points_multiplier
    multiplier: 2
    activation: auto
    categories: [koffie]
    group: koffie
    priority: 1
  - key: koffie-tien
    title: 10% op koffie
    kind: percent_off
    percent: 10
    activation: auto
    categories: [koffie]
    group: koffie
  - key: gebak-korting
    title: 1 euro van gebak
    kind: amount_off
    amount: "1.00"
    activation: auto
    categories: [gebak]
    group: extra
  - key: gratis-koekje
    title: Gratis koekje
    kind: free_item
    item: koekje
    group: extra
  - key: op-de-dam
    title: 5 punten op de Dam
    kind: bonus_points
    points: 5
    activation: auto
    context: {stores: [centrum], radius_m: 100}
"""


def line(sku: str, price: str, category: str | None = None, quantity: str = "1") -> PurchaseLine:
    return PurchaseLine(sku, Decimal(quantity), Decimal(price), category)


COFFEE_AND_CAKE = [line("latte", "4.00", "koffie"), line("taart", "3.50", "gebak")]


async def buy(
    db: Database,
    clock: FixedClock,
    member_id: int,
    external_id: str,
    lines: list[PurchaseLine] | None = None,
    store: str | None = None,
) -> PurchaseResult:
    return await PointsService(db, clock).record_purchase(
        PurchaseInput(
            MemberRef(member_id=member_id), external_id, lines or COFFEE_AND_CAKE, store=store
        ),
        actor="till",
    )


async def applications(db: Database, purchase_id: int) -> dict[str, OfferApplication]:
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.execute(
            select(Offer.key, OfferApplication)
            .join(Offer, Offer.id == OfferApplication.offer_id)
            .where(OfferApplication.purchase_id == purchase_id)
        )
        return {key: row for key, row in rows.all()}
