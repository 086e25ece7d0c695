"""Four campaigns and the worker's own marketing pushes fire at once for the same members,
run by three worker processes at the same time: no member gets a message without consent,
inside their quiet hours or beyond the day's cap (the contact log and the deliveries both
say so), and every member with room gets exactly the cap. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import exists, func, select, update

from api.wiring import wire_database
from loyalty.campaigns.models import CampaignEnrolment
from loyalty.campaigns.service import CampaignsService
from loyalty.core.clock import FixedClock
from loyalty.core.models import OutboxEvent
from loyalty.members.models import Member
from loyalty.messaging.models import (
    ContactLog,
    InboxMessage,
    NotificationDelivery,
    OutboxDispatch,
)
from loyalty.points.service import MemberRef
from loyalty.storage.database import Database
from tests.loyalty.campaigns.helpers import install
from tests.loyalty.campaigns.processes import start_journey_worker, stop, wait_until
from tests.notifications.helpers import event, expiring, member

WORKERS = 3
CAMPAIGNS = 4
PER_DAY = 2
PROGRAMME = """\
programme:
  key: winkel
  name: Winkel
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
campaigns:
  contact: {per_day: 2, per_week: 3, quiet_hours: {start: "21:00", end: "08:00"}}
  templates:
    - {key: hallo, title: Hallo, body: Een bericht.}
  definitions:
"""
CAMPAIGN = """\
    - key: c{n}
      name: Campaign {n}
      holdout_share: 0
      entry: {{event: delivery.late}}
      steps:
        - {{key: points, award_points: {{points: 10}}}}
        - {{key: tell, send: {{channel: {channel}, template: hallo}}}}
"""


def zone_at(hour: int, now: datetime) -> str:
    """An Etc/GMT zone whose local hour is `hour` now (Etc/GMT-N is UTC+N)."""
    for offset in range(-12, 15):
        if (now.hour + offset) % 24 == hour:
            return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"
    raise AssertionError("every hour has a zone")


@pytest.fixture
def clock() -> FixedClock:
    # The worker processes run on the real clock: the events must be as fresh.
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def shared_db(private_database: str) -> Iterator[tuple[str, Database]]:
    yield private_database, Database(private_database)


async def _settled(db: Database, members: int, now: datetime) -> bool:
    later = now + timedelta(hours=1)  # quiet hours put sends off until 08:00, hours away
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        entered = await s.scalar(select(func.count()).select_from(CampaignEnrolment))
        busy = await s.scalar(
            select(func.count())
            .select_from(CampaignEnrolment)
            .where(CampaignEnrolment.state == "active", CampaignEnrolment.due_at < later)
        )
        undispatched = await s.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(~exists().where(OutboxDispatch.event_id == OutboxEvent.id))
        )
        due = await s.scalar(
            select(func.count())
            .select_from(NotificationDelivery)
            .where(
                NotificationDelivery.status == "pending",
                NotificationDelivery.next_attempt_at < later,
            )
        )
    return entered == members * CAMPAIGNS and busy == 0 and undispatched == 0 and due == 0


async def test_no_message_breaks_the_budget_with_many_workers(
    shared_db: tuple[str, Database], clock: FixedClock
) -> None:
    url, db = shared_db
    wire_database(db)
    try:
        await _run(url, db, clock)
    finally:
        await db.dispose()


async def _run(url: str, db: Database, clock: FixedClock) -> None:
    channels = ["inbox", "push", "inbox", "push"]
    text = PROGRAMME + "".join(CAMPAIGN.format(n=n, channel=channels[n]) for n in range(CAMPAIGNS))
    await install(db, clock, text)
    now = clock.now()
    day, night = zone_at(13, now), zone_at(23, now)
    kinds = {"both": (True, True), "inbox": (False, True), "none": (False, False)}
    who: dict[int, tuple[str, str]] = {}
    for n in range(24):
        kind = list(kinds)[n % 3]
        zone = day if n % 2 else night
        push, in_app = kinds[kind]
        member_id = await member(
            db, clock, f"m{n}@example.com", push=push, in_app=in_app, devices=(("ios", f"t{n}"),)
        )
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                update(Member).where(Member.id == member_id).values(time_zone=zone)
            )
            await uow.commit()
        who[member_id] = (kind, "day" if zone == day else "night")
    service = CampaignsService(db, clock)
    for member_id in who:  # everything fires at once: four campaigns and a marketing push
        await service.report_late_delivery(MemberRef(member_id=member_id), f"o{member_id}", 1)
        await event(db, clock, "points.expiring", member_id, expiring())

    workers = [start_journey_worker(url) for _ in range(WORKERS)]
    try:
        await wait_until(lambda: _settled(db, len(who), now), workers, 180, "the campaigns")
    finally:
        stop(workers)
    await _check(db, who)


async def _check(db: Database, who: dict[int, tuple[str, str]]) -> None:
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        log = list(await s.scalars(select(ContactLog)))
        pushes = list(
            await s.scalars(
                select(NotificationDelivery).where(NotificationDelivery.channel == "push")
            )
        )
        inbox = list(await s.scalars(select(InboxMessage)))
        topics = dict((await s.execute(select(OutboxEvent.id, OutboxEvent.topic))).all())
    contacts: dict[int, set[object]] = defaultdict(set)
    for line in log:
        if line.sent and not line.transactional:
            contacts[line.member_id].add(line.event_id or ("log", line.id))
    delivered: dict[int, set[int]] = defaultdict(set)
    for push in pushes:
        marketing = push.kind == "marketing"
        if marketing and push.status == "delivered" and push.member_id is not None:
            delivered[push.member_id].add(push.event_id)
    inboxed: dict[int, set[int | None]] = defaultdict(set)
    for message in inbox:  # a campaign's; the inbox's own news does not interrupt
        if topics.get(message.event_id) == "campaign.message":
            inboxed[message.member_id].add(message.event_id)
    for member_id, (kind, when) in who.items():
        # Marketing pushes that reached a phone and campaign messages in the inbox.
        had, got = contacts[member_id], delivered[member_id] | inboxed[member_id]
        # Every message that reached the member is a contact in the log, within the cap.
        assert got <= had, (member_id, kind, when)
        assert len(had) <= PER_DAY, (member_id, kind, when, had)
        if when == "night" or kind == "none":
            assert had == set(), (member_id, kind, when)
        else:
            assert len(had) == PER_DAY, (member_id, kind, when, had)
        if kind != "both":
            assert delivered[member_id] == set(), (member_id, kind)
        if kind == "none":
            assert inboxed[member_id] == set(), member_id
    reasons = {(line.member_id, line.reason) for line in log if not line.sent}
    day_both = [m for m, (k, w) in who.items() if k == "both" and w == "day"]
    assert all((m, "daily_cap") in reasons for m in day_both)
    none = [m for m, (k, _) in who.items() if k == "none"]
    assert all((m, "no_consent") in reasons for m in none)
