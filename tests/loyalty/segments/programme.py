"""A programme with stores, tiers, segments and an offer by segment for the segments tests,
and shortcuts to put members' purchases and activities in at given times."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from loyalty.core.clock import FixedClock
from loyalty.points.activities import EventInput
from loyalty.points.purchases import PurchaseInput, PurchaseLine
from loyalty.points.refs import MemberRef
from loyalty.points.service import PointsService
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database

PROGRAMME = """\
programme:
  key: segments-test
  name: Koffiebar Trouw
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
tiers:
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: goud, name: Goud, threshold: 100000}
stores:
  - {key: centrum, name: Dam, latitude: 52.3731, longitude: 4.8922}
  - {key: zuid, name: Zuid, latitude: 52.3383, longitude: 4.8720}
  - {key: rotterdam, name: Rotterdam, latitude: 51.9225, longitude: 4.4792}
segments:
  - key: vaste-klanten
    name: Vaste klanten
    rules: {rfm: {frequency: [5]}}
  - key: dreigen-te-gaan
    name: Dreigen te gaan
    rules: {lifecycle: [at_risk, lapsed]}
  - key: koffie-in-amsterdam
    name: Koffieliefhebbers in Amsterdam
    rules:
      all_of:
        - interests: [koffie]
        - location: {near_store: centrum, radius_m: 10000}
  - key: reviewers
    name: Schrijven reviews
    rules: {did: {event: review_written, at_least: 2, within_days: 30}}
  - key: push-of-goud
    name: Push of goud
    rules:
      any_of:
        - consent: push
        - tiers: [goud]
offers:
  - key: welkom-terug
    title: Welkom terug
    kind: bonus_points
    points: 100
    eligibility: {segments: [dreigen-te-gaan]}
  - key: voor-iedereen
    title: Voor iedereen
    kind: bonus_points
    points: 5
"""


async def install_text(db: Database, clock: FixedClock, text: str = PROGRAMME) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(text), clock.now())
        await uow.commit()


async def buy(
    db: Database,
    clock: FixedClock,
    member_id: int,
    at: datetime,
    euros: str = "10.00",
    store: str | None = None,
) -> None:
    """A purchase recorded at `at` (the clock stands there while it is recorded)."""
    back = clock.now()
    clock.set(at)
    await PointsService(db, clock).record_purchase(
        PurchaseInput(
            member=MemberRef(member_id=member_id),
            external_id=f"p-{member_id}-{at.isoformat()}",
            lines=[PurchaseLine("KOF", Decimal(1), Decimal(euros), "koffie")],
            store=store,
        )
    )
    clock.set(back)


async def did(db: Database, clock: FixedClock, member_id: int, name: str, at: datetime) -> None:
    back = clock.now()
    clock.set(at)
    await PointsService(db, clock).record_event(
        EventInput(MemberRef(member_id=member_id), f"e-{member_id}-{name}-{at.isoformat()}", name)
    )
    clock.set(back)


def days(n: float) -> timedelta:
    return timedelta(days=n)
