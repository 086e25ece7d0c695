"""A programme with stores and offers for the offers tests, and a way to put it in force."""

from __future__ import annotations

from datetime import datetime

from loyalty.core.clock import FixedClock
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database

CENTRUM = (52.3731, 4.8922)  # the store on the Dam
FAR_AWAY = (51.9225, 4.4792)  # Rotterdam, ~57 km

PROGRAMME = """\
programme:
  key: offers-test
  name: Koffiebar Trouw
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
tiers:
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: goud, name: Goud, threshold: 7500}
stores:
  - {key: centrum, name: Dam, latitude: 52.3731, longitude: 4.8922}
  - {key: zuid, name: Zuid, latitude: 52.3383, longitude: 4.8720}
offers:
  - key: voor-iedereen
    title: 50 extra punten
    kind: bonus_points
    points: 50
    activation: auto
  - key: om-de-hoek
    title: Gratis koekje
    kind: free_item
    item: koekje
    context: {stores: [centrum, zuid], radius_m: 500}
  - key: ontbijt
    title: Ontbijt-korting
    kind: percent_off
    percent: 10
    context: {from_time: "07:00", until_time: "10:00"}
  - key: koffieliefhebber
    title: Dubbele punten op koffie
    kind: points_multiplier
    multiplier: 2
    eligibility: {interests: [koffie]}
  - key: gedeelde-code
    title: 2 euro korting
    kind: amount_off
    amount: "2.00"
    coupon: {shared: KOFFIE2}
  - key: schaars
    title: Een van de tien
    kind: bonus_points
    points: 10
    global_limit: 10
    coupon: per_member
"""


async def install_text(db: Database, clock: FixedClock, text: str = PROGRAMME) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(text), clock.now())
        await uow.commit()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
