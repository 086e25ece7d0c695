"""Splits on the member's profile: their tier (that one or higher) and whether they bought
something in the last N days; an unknown tier is refused at its line. On SQLite and
PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from api.wiring import build_reactions
from loyalty.campaigns.service import CampaignsService
from loyalty.core.clock import FixedClock
from loyalty.core.reactions import ReactionRunner
from loyalty.points.models import LedgerEntry
from loyalty.points.service import MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.programme import parse_programme
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers.service import set_floor
from tests.loyalty.campaigns.helpers import install
from tests.loyalty.services import add_member

PROGRAMME = """\
programme:
  key: winkel
  name: Winkel
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
tiers:
  qualify_on: points
  window: calendar_year
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: zilver, name: Zilver, threshold: 1000}
    - {key: goud, name: Goud, threshold: 3000}
campaigns:
  definitions:
    - key: sorry
      name: Sorry
      holdout_share: 0
      entry: {event: delivery.late}
      steps:
        - key: by-tier
          split: {if: {tier: TIER}, then: vip}
        - key: by-purchase
          split: {if: {purchased_within_days: 7}, then: recent, else: lapsed}
        - {key: vip, award_points: {points: 30}, next: done}
        - {key: recent, award_points: {points: 20}, next: done}
        - {key: lapsed, award_points: {points: 10}}
        - {key: done, exit: true}
"""


def test_an_unknown_tier_is_refused_at_its_line() -> None:
    with pytest.raises(Exception) as caught:
        parse_programme(PROGRAMME.replace("TIER", "platina"))
    assert "unknown tier 'platina'" in str(caught.value)
    assert "campaigns.definitions[0].steps[0].split.if.tier" in str(caught.value)


async def test_splits_on_tier_and_recent_purchase(db: Database, clock: FixedClock) -> None:
    await install(db, clock, PROGRAMME.replace("TIER", "zilver"))
    goud, zilver, recent, lapsed = [
        (await add_member(db, clock, f"m{n}@example.com")).id for n in range(4)
    ]
    async with db.unit_of_work() as uow:
        file = await current_file(uow.session)
        await set_floor(uow.session, goud, file, "goud", None, clock.now())
        await set_floor(uow.session, zilver, file, "zilver", None, clock.now())
        await uow.commit()
    line = PurchaseLine("koffie", Decimal(1), Decimal("3.50"))
    await PointsService(db, clock).record_purchase(
        PurchaseInput(MemberRef(member_id=recent), "p1", [line])
    )
    service = CampaignsService(db, clock)
    for member_id in (goud, zilver, recent, lapsed):
        await service.report_late_delivery(MemberRef(member_id=member_id), f"o{member_id}", 1)
    runner = ReactionRunner(db, build_reactions(), clock)
    while await runner.run_once():
        pass
    async with db.unit_of_work(write=False) as uow:
        given = {
            e.member_id: e.points
            for e in await uow.session.scalars(
                select(LedgerEntry).where(LedgerEntry.actor == "campaign:sorry")
            )
        }
    # Goud is zilver or higher; a purchase today is within 7 days; the last bought nothing.
    assert given == {goud: 30, zilver: 30, recent: 20, lapsed: 10}
