"""App pushes and the inbox through the worker, with a push sender of our own: texts from real
events, consent, quiet hours in the member's (else the programme's) time, the one contact
budget's caps per day and week, dead tokens."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from loyalty.core.clock import FixedClock
from loyalty.members import service as members
from loyalty.members.models import Member
from loyalty.messaging.budget import Budget, install_fallback, quiet_until
from loyalty.messaging.models import ContactLog
from loyalty.points.service import MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.storage.database import Database
from notifications.channels import PushResult
from tests.loyalty.services import set_status
from tests.notifications.helpers import (
    AFTERNOON,
    PROGRAMME,
    FakePush,
    deliveries,
    devices_of,
    earned,
    event,
    expiring,
    inbox_of,
    install,
    make_worker,
    member,
    redeemed,
    tier_changed,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# The programme file's own budget: quiet from 21:00 to 08:00, in the member's time zone.
BUDGET = """\
campaigns:
  contact: {per_day: 5, per_week: 10, quiet_hours: {start: "21:00", end: "08:00"}}
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(AFTERNOON)


def senders() -> dict[str, FakePush]:
    return {"ios": FakePush("ios"), "android": FakePush("android")}


async def test_a_purchase_pushes_what_was_earned_to_every_device(
    db: Database, clock: FixedClock
) -> None:
    await install(db, clock)
    member_id = await member(
        db, clock, devices=(("ios", "apns-1"), ("android", "fcm-1")), locale="en-GB"
    )
    await PointsService(db, clock).record_purchase(
        PurchaseInput(
            member=MemberRef(member_id=member_id),
            external_id="till-1/0001",
            lines=[PurchaseLine("brood", Decimal(1), Decimal("12.50"))],
        )
    )
    push = senders()
    worker = make_worker(db, clock, push=push)
    await worker.run_once()

    [(token, message)] = push["ios"].sent
    [(android_token, same)] = push["android"].sent
    assert (token, android_token) == ("apns-1", "fcm-1")
    assert message == same
    assert message.title == "You earned 125 points"
    # 14 pending days: spendable from 25 March in Amsterdam.
    assert message.body == "You can spend them from 25 Mar 2026."
    assert message.collapse_key == "balance"
    assert message.data["type"] == "balance.changed"
    assert message.data["event_id"] == str(message.event_id)
    assert all(isinstance(v, str) for v in message.data.values())
    pushes = await deliveries(db, "push")
    assert [(d.status, d.kind, d.attempts) for d in pushes] == [
        ("delivered", "transactional", 1)
    ] * 2
    # Balance changes are transactional: no inbox message.
    assert await inbox_of(db, member_id) == []

    # When the pending points become spendable, the member hears that too.
    from loyalty.jobs import release_pending

    clock.advance(timedelta(days=15))
    await release_pending(db, clock.now())
    await worker.run_once()
    assert push["ios"].sent[-1][1].title == "125 points ready to spend"
    assert push["ios"].sent[-1][1].body == "Your balance is now 125 points."


async def test_texts_follow_the_members_language(db: Database, clock: FixedClock) -> None:
    await install(db, clock)
    member_id = await member(db, clock, locale="nl-NL")
    await event(db, clock, "points.expiring", member_id, expiring(120))
    await event(db, clock, "tier.changed", member_id, tier_changed("brons", "zilver"))
    push = senders()
    await make_worker(db, clock, push=push).run_once()
    titles = [m.title for _, m in push["ios"].sent]
    assert titles == ["120 punten vervallen op 31 mrt 2026", "Welkom in Zilver"]
    inbox = await inbox_of(db, member_id)
    assert [m.title for m in inbox] == titles
    assert inbox[1].body == "Je hebt het niveau Zilver bereikt."


async def test_a_spend_is_not_pushed_but_a_redemption_is(db: Database, clock: FixedClock) -> None:
    await install(db, clock)
    member_id = await member(db, clock)
    spend = earned(-300) | {"kind": "spend"}
    await event(db, clock, "balance.changed", member_id, spend)
    await event(db, clock, "reward.redeemed", member_id, redeemed(9, reward_key="x"))
    push = senders()
    await make_worker(db, clock, push=push).run_once()
    assert [m.title for _, m in push["ios"].sent] == ["Your reward is ready"]
    assert push["ios"].sent[0][1].data["redemption_id"] == "9"


async def test_without_push_consent_no_push_is_planned(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock, push=False, in_app=False)
    await event(db, clock, "balance.changed", member_id, earned())
    await event(db, clock, "points.expiring", member_id, expiring())
    push = senders()
    await make_worker(db, clock, push=push).run_once()
    assert await deliveries(db) == []
    assert push["ios"].sent == []
    assert await inbox_of(db, member_id) == []


async def test_consent_withdrawn_before_delivery_stops_the_push(
    db: Database, clock: FixedClock
) -> None:
    member_id = await member(db, clock)
    await event(db, clock, "balance.changed", member_id, earned())
    push = senders()
    worker = make_worker(db, clock, push=push)
    await worker.dispatch()
    async with db.unit_of_work() as uow:
        await members.set_consent(uow.session, member_id, "push", False, clock.now())
        await uow.commit()
    await worker.run_once()
    assert push["ios"].sent == []
    [delivery] = await deliveries(db, "push")
    assert (delivery.status, delivery.last_error) == ("failed", "no_consent")


async def test_a_push_planned_for_a_phone_that_changed_hands_is_not_sent(
    db: Database, clock: FixedClock
) -> None:
    from loyalty.messaging.devices import DeviceService

    anna = await member(db, clock, devices=(("ios", "shared-phone"),))
    bert = await member(db, clock, "bert@example.com", devices=())
    await event(db, clock, "balance.changed", anna, earned())
    push = senders()
    worker = make_worker(db, clock, push=push)
    await worker.dispatch()
    await DeviceService(db, clock).register(bert, "ios", "shared-phone")
    await worker.run_once()
    assert push["ios"].sent == []
    [delivery] = await deliveries(db, "push")
    assert delivery.status == "failed"
    assert delivery.last_error in ("device_removed", "device_moved")


async def test_push_switched_off_plans_no_pushes(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock)
    await event(db, clock, "balance.changed", member_id, earned())
    await make_worker(db, clock, push_enabled=False).run_once()
    assert await deliveries(db, "push") == []


async def test_closed_members_get_no_messages_but_webhooks_still_hear(
    db: Database, clock: FixedClock
) -> None:
    from tests.notifications.helpers import endpoint

    member_id = await member(db, clock)
    await set_status(db, member_id, "closed")
    expiry = await event(db, clock, "points.expiring", member_id, expiring())
    worker = make_worker(db, clock, hooks=[endpoint("http://127.0.0.1:9/hooks")])
    await worker.dispatch()
    planned = await deliveries(db)
    assert [d.channel for d in planned if d.event_id == expiry] == ["webhook"]
    # Nothing else about the closed member reaches them either (signing up is an event too).
    assert {d.channel for d in planned} == {"webhook"}


async def test_a_gone_token_removes_the_device(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock, devices=(("ios", "old-phone"), ("ios", "new-phone")))
    await event(db, clock, "balance.changed", member_id, earned())
    push = {"ios": FakePush("ios", [PushResult("gone", "Unregistered"), PushResult("delivered")])}
    await make_worker(db, clock, push=push).run_once()
    assert [t for t, _ in push["ios"].sent] == ["old-phone", "new-phone"]
    assert [d.token for d in await devices_of(db, member_id)] == ["new-phone"]
    statuses = sorted((d.status, d.last_error) for d in await deliveries(db, "push"))
    assert statuses == [("delivered", None), ("failed", "gone: Unregistered")]

    # The next event goes to the remaining device only.
    await event(db, clock, "balance.changed", member_id, earned())
    await make_worker(db, clock, push=push).run_once()
    assert [t for t, _ in push["ios"].sent] == ["old-phone", "new-phone", "new-phone"]


async def test_push_retry_backs_off_and_permanent_faults_dead_letter(
    db: Database, clock: FixedClock
) -> None:
    member_id = await member(db, clock, devices=(("ios", "a"),))
    await event(db, clock, "balance.changed", member_id, earned())
    push = {
        "ios": FakePush(
            "ios",
            [
                PushResult("retry", "503 ServiceUnavailable"),
                PushResult("retry", "permanent: 400 BadTopic"),
            ],
        )
    }
    worker = make_worker(db, clock, push=push)
    await worker.run_once()
    [delivery] = await deliveries(db, "push")
    assert (delivery.status, delivery.last_error) == ("pending", "503 ServiceUnavailable")
    clock.advance(timedelta(minutes=1))
    await worker.run_once()
    [delivery] = await deliveries(db, "push")
    assert (delivery.status, delivery.attempts) == ("dead", 2)
    assert [d.token for d in await devices_of(db, member_id)] == ["a"]  # the device stays


async def test_a_sender_that_raises_is_retried(db: Database, clock: FixedClock) -> None:
    class Broken:
        platform = "ios"

        async def send(self, token: str, message: object) -> PushResult:
            raise ConnectionError("APNs unreachable")

    member_id = await member(db, clock)
    await event(db, clock, "balance.changed", member_id, earned())
    await make_worker(db, clock, push={"ios": Broken()}).run_once()  # type: ignore[dict-item]
    [delivery] = await deliveries(db, "push")
    assert (delivery.status, delivery.last_error) == (
        "pending",
        "ConnectionError: APNs unreachable",
    )


async def test_marketing_pushes_wait_for_the_end_of_quiet_hours(
    db: Database, clock: FixedClock
) -> None:
    await install(db, clock)
    clock.set(datetime(2026, 3, 11, 22, 30, tzinfo=AMSTERDAM))
    member_id = await member(db, clock)
    await event(db, clock, "points.expiring", member_id, expiring())
    await event(db, clock, "balance.changed", member_id, earned())
    push = senders()
    worker = make_worker(db, clock, push=push)
    await worker.run_once()
    # The transactional push goes at once; the marketing one waits until 08:00 there.
    assert [m.data["type"] for _, m in push["ios"].sent] == ["balance.changed"]
    waiting = [d for d in await deliveries(db, "push") if d.status == "pending"]
    assert [d.next_attempt_at for d in waiting] == [datetime(2026, 3, 12, 8, 0, tzinfo=AMSTERDAM)]
    assert waiting[0].attempts == 0
    # The inbox does not wait.
    assert len(await inbox_of(db, member_id)) == 1

    clock.set(datetime(2026, 3, 12, 7, 59, tzinfo=AMSTERDAM))
    await worker.run_once()
    assert len(push["ios"].sent) == 1
    clock.set(datetime(2026, 3, 12, 8, 0, tzinfo=AMSTERDAM))
    await worker.run_once()
    assert [m.data["type"] for _, m in push["ios"].sent] == ["balance.changed", "points.expiring"]


async def test_a_push_that_falls_due_in_quiet_hours_is_deferred_again(
    db: Database, clock: FixedClock
) -> None:
    await install(db, clock)
    member_id = await member(db, clock)
    await event(db, clock, "tier.changed", member_id, tier_changed("brons", "goud"))
    push = {"ios": FakePush("ios", [PushResult("retry", "503"), PushResult("delivered")])}
    worker = make_worker(db, clock, push=push)
    await worker.run_once()
    clock.set(datetime(2026, 3, 11, 23, 0, tzinfo=AMSTERDAM))  # the retry falls due at night
    await worker.run_once()
    [delivery] = await deliveries(db, "push")
    assert delivery.status == "pending"
    assert delivery.next_attempt_at == datetime(2026, 3, 12, 8, 0, tzinfo=AMSTERDAM)
    assert (delivery.attempts, delivery.last_error) == (1, "quiet_hours")


async def test_the_contact_budget_caps_marketing_pushes_per_member(
    db: Database, clock: FixedClock
) -> None:
    install_fallback(db.info, Budget(per_day=3, per_week=10, quiet=None))
    member_id = await member(db, clock, devices=(("ios", "a"), ("android", "b")))
    other_id = await member(db, clock, "bert@example.com", devices=(("ios", "c"),))
    for n in range(4):
        await event(db, clock, "points.expiring", member_id, expiring(100 + n))
    await event(db, clock, "points.expiring", other_id, expiring())
    for n in range(2):
        await event(db, clock, "balance.changed", member_id, earned(n + 1))
    push = senders()
    worker = make_worker(db, clock, push=push)
    await worker.run_once()
    await worker.run_once()

    marketing = [d for d in await deliveries(db, "push") if d.kind == "marketing"]
    mine = [d for d in marketing if d.member_id == member_id]
    # Three events on two phones each (one event on two phones is one contact); the fourth
    # is dropped on both.
    assert sorted(d.status for d in mine) == ["delivered"] * 6 + ["failed"] * 2
    assert {d.last_error for d in mine if d.status == "failed"} == {"daily_cap"}
    # Others are not affected, nor are transactional pushes, nor the inbox.
    assert [d.status for d in marketing if d.member_id == other_id] == ["delivered"]
    transactional = [d for d in await deliveries(db, "push") if d.kind == "transactional"]
    assert [d.status for d in transactional] == ["delivered"] * 4
    assert len(await inbox_of(db, member_id)) == 4
    # The contact log: each push claimed once (not per phone), the refused one with why.
    async with db.unit_of_work(write=False) as uow:
        log = list(await uow.session.scalars(select(ContactLog).order_by(ContactLog.id)))
    mine_logged = [(c.sent, c.reason) for c in log if c.member_id == member_id]
    assert sorted(mine_logged, key=str) == [(False, "daily_cap")] + [(True, None)] * 3
    assert [(c.sender, c.sent) for c in log if c.member_id == other_id] == [("notifications", True)]
    # The next local day, the fourth would have gone: the day's cap is the member's day.
    clock.advance(timedelta(days=1))
    later = await event(db, clock, "points.expiring", member_id, expiring(200))
    await worker.run_once()
    newest = [d for d in await deliveries(db, "push") if d.event_id == later]
    assert [d.status for d in newest] == ["delivered"] * 2


async def test_quiet_hours_and_days_are_the_members_own(db: Database, clock: FixedClock) -> None:
    """22:30 in Amsterdam is 16:30 in New York: a New Yorker's marketing push goes at once,
    an Amsterdammer's waits until 08:00 there. The programme file's budget wins over the
    settings'."""
    install_fallback(db.info, Budget(per_day=None, per_week=None, quiet=None))
    await install(db, clock, PROGRAMME + BUDGET)
    clock.set(datetime(2026, 3, 11, 22, 30, tzinfo=AMSTERDAM))
    anna = await member(db, clock)
    bob = await member(db, clock, "bob@example.com", devices=(("ios", "ny"),))
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(Member).where(Member.id == bob).values(time_zone="America/New_York")
        )
        await uow.commit()
    for who in (anna, bob):
        await event(db, clock, "points.expiring", who, expiring())
    push = senders()
    await make_worker(db, clock, push=push).run_once()
    assert [token for token, _ in push["ios"].sent] == ["ny"]
    waiting = [d for d in await deliveries(db, "push") if d.status == "pending"]
    assert [(d.member_id, d.next_attempt_at) for d in waiting] == [
        (anna, datetime(2026, 3, 12, 8, 0, tzinfo=AMSTERDAM))
    ]


async def test_old_events_are_not_pushed(db: Database, clock: FixedClock) -> None:
    member_id = await member(db, clock)
    await event(db, clock, "balance.changed", member_id, earned())
    clock.advance(timedelta(days=2))
    push = senders()
    await make_worker(db, clock, push=push).run_once()
    assert push["ios"].sent == []
    assert await deliveries(db, "push") == []


async def test_an_inbox_message_is_written_once_per_event(db: Database, clock: FixedClock) -> None:
    await install(db, clock)
    member_id = await member(db, clock, push=False)
    event_id = await event(db, clock, "points.expiring", member_id, expiring(40))
    worker = make_worker(db, clock)
    await worker.run_once()
    await worker.run_once()
    [message] = await inbox_of(db, member_id)
    assert (message.event_id, message.title, message.read_at) == (
        event_id,
        "40 points expire on 31 Mar 2026",
        None,
    )
    [delivery] = await deliveries(db)
    assert (delivery.channel, delivery.status, delivery.target) == (
        "inbox",
        "delivered",
        f"member:{member_id}",
    )


@pytest.mark.parametrize(
    ("local", "until"),
    [
        (datetime(2026, 3, 11, 20, 59), None),
        (datetime(2026, 3, 11, 21, 0), datetime(2026, 3, 12, 8, 0)),
        (datetime(2026, 3, 11, 23, 59), datetime(2026, 3, 12, 8, 0)),
        (datetime(2026, 3, 12, 0, 0), datetime(2026, 3, 12, 8, 0)),
        (datetime(2026, 3, 12, 7, 59), datetime(2026, 3, 12, 8, 0)),
        (datetime(2026, 3, 12, 8, 0), None),
        # The night the clocks go forward (29 March 2026, 02:00 → 03:00): 08:00 is 06:00 UTC.
        (datetime(2026, 3, 28, 22, 0), datetime(2026, 3, 29, 8, 0)),
    ],
)
def test_quiet_hours_are_read_in_local_time(local: datetime, until: datetime | None) -> None:
    at = local.replace(tzinfo=AMSTERDAM).astimezone(UTC)
    found = quiet_until((time(21), time(8)), at, AMSTERDAM)
    assert found == (until.replace(tzinfo=AMSTERDAM) if until else None)
    if found is not None:
        assert found.tzinfo == UTC


def test_quiet_hours_within_one_day_and_none() -> None:
    at = datetime(2026, 3, 11, 12, 30, tzinfo=UTC)  # 13:30 in Amsterdam
    lunch = (time(12), time(14))
    assert quiet_until(lunch, at, AMSTERDAM) == datetime(2026, 3, 11, 14, 0, tzinfo=AMSTERDAM)
    assert quiet_until((time(8), time(8)), at, AMSTERDAM) is None
    assert quiet_until(None, at, AMSTERDAM) is None
