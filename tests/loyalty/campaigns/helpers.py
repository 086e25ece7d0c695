"""A programme with an Excuse+ recovery campaign, and shortcuts for the campaign tests."""

from __future__ import annotations

from sqlalchemy import select

from loyalty.campaigns.models import CampaignEnrolment, CampaignStep
from loyalty.core.clock import FixedClock
from loyalty.messaging.models import ContactLog
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database

PROGRAMME = """\
programme:
  key: winkel
  name: Winkel
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
offers:
  - key: excuse-plus
    title: Sorry - 500 extra points on your next order
    kind: bonus_points
    points: 500
    activation: auto
    eligibility:
      granted_only: true
campaigns:
  contact:
    per_day: 1
    per_week: 2
    quiet_hours: {start: "00:00", end: "00:00"}
  templates:
    - key: sorry
      title: Sorry!
      body: Your order was late. 500 extra points are waiting for you.
  definitions:
    - key: excuse
      name: Excuse+
      holdout_share: HOLDOUT
      entry: {event: delivery.late}
      rules: {once: false, reenter_after_days: 1}
      steps:
        - key: grant
          grant_offer: {offer: excuse-plus}
        - key: points
          award_points: {points: 100, reason: Sorry for the late delivery}
        - key: tell
          send: {channel: inbox, template: sorry}
        - key: wait
          wait_for: {event: purchase.recorded, timeout_hours: 48, on_timeout: remind}
        - key: thanks
          exit: true
        - key: remind
          send: {channel: inbox, template: sorry}
"""


def programme(holdout: float = 0.1, text: str = PROGRAMME) -> str:
    return text.replace("HOLDOUT", str(holdout))


async def install(db: Database, clock: FixedClock, text: str) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(text), clock.now())
        await uow.commit()


async def journeys(db: Database) -> list[CampaignEnrolment]:
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(select(CampaignEnrolment).order_by(CampaignEnrolment.id))
        )


async def steps(db: Database) -> list[CampaignStep]:
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(
                select(CampaignStep).order_by(CampaignStep.enrolment_id, CampaignStep.seq)
            )
        )


async def contact_log(db: Database) -> list[ContactLog]:
    async with db.unit_of_work(write=False) as uow:
        return list(await uow.session.scalars(select(ContactLog).order_by(ContactLog.id)))
