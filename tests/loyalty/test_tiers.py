"""Tiers on SQLite and PostgreSQL: upgrade at once when a purchase crosses a threshold (the
higher multiplier from the next purchase on), no downgrade mid-period, downgrade at the new
year's recalculation (one step or straight to the qualified level), a staff tier that is a
floor until its date, the member's progress, and spend-based qualification over a rolling
window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from loyalty import jobs
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.core.models import OutboxEvent
from loyalty.points.models import LedgerEntry, Purchase
from loyalty.points.service import (
    MemberRef,
    PointsService,
    PurchaseInput,
    PurchaseLine,
    ReturnInput,
    ReturnLine,
)
from loyalty.programme import parse_programme, store
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers
from loyalty.tiers.models import MemberTier
from tests.loyalty.services import add_member

JUNE = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Amsterdam (summer time)
# 1 January at 00:00 in Amsterdam (winter time, UTC+1).
NEW_YEAR_2027 = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
NEW_YEAR_2028 = datetime(2027, 12, 31, 23, 0, tzinfo=UTC)


def points_programme(*, one_step: bool = False) -> str:
    return f"""\
programme:
  key: winkel
  name: Winkel
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
earning:
  base:
    points_per_unit: 10
tiers:
  qualify_on: points
  window: calendar_year
  downgrade_one_step: {"true" if one_step else "false"}
  levels:
    - {{key: brons, name: Brons, threshold: 0}}
    - {{key: zilver, name: Zilver, threshold: 1000, earn_multiplier: "1.5"}}
    - {{key: goud, name: Goud, threshold: 3000, earn_multiplier: "2"}}
"""


SPEND_PROGRAMME = """\
programme:
  key: winkel
  name: Winkel
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
earning:
  base:
    points_per_unit: 1
    exclude_categories: [cadeaubon]
tiers:
  qualify_on: spend
  window: rolling
  rolling_days: 365
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: zilver, name: Zilver, threshold: 100, earn_multiplier: "1.5"}
    - {key: goud, name: Goud, threshold: 500, earn_multiplier: "2"}
"""


@pytest.fixture
def service(db: Database, clock: FixedClock) -> PointsService:
    clock.set(JUNE)
    return PointsService(db, clock)


async def install(db: Database, clock: FixedClock, text: str) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(text), clock.now())
        await uow.commit()


async def member(db: Database, clock: FixedClock, name: str = "anna") -> int:
    return (await add_member(db, clock, f"{name}@example.com")).id


def ref(member_id: int) -> MemberRef:
    return MemberRef(member_id=member_id)


async def buy(
    service: PointsService, member_id: int, external_id: str, price: str, **line: Any
) -> Purchase:
    data = PurchaseInput(
        ref(member_id), external_id, [PurchaseLine("koffie", Decimal(1), Decimal(price), **line)]
    )
    result = await service.record_purchase(data)
    assert not result.replayed
    return result.purchase


async def give_back(service: PointsService, purchase: str, external_id: str, amount: str) -> int:
    result = await service.record_return(ReturnInput(purchase, external_id, amount=Decimal(amount)))
    return result.points_reversed


async def status(db: Database, clock: FixedClock, member_id: int) -> tiers.TierStatus:
    async with db.unit_of_work(write=False) as uow:
        file = await store.current_file(uow.session)
        found = await tiers.status(uow.session, member_id, file, clock.now())
    assert found is not None
    return found


async def level(db: Database, clock: FixedClock, member_id: int) -> str:
    return (await status(db, clock, member_id)).level.key


async def stored_tier(db: Database, member_id: int) -> MemberTier:
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.get(MemberTier, member_id)
    assert row is not None
    return row


async def tier_events(db: Database, member_id: int | None = None) -> list[dict[str, Any]]:
    query = select(OutboxEvent).where(OutboxEvent.topic == "tier.changed")
    if member_id is not None:
        query = query.where(OutboxEvent.member_id == member_id)
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalars(query.order_by(OutboxEvent.id))
        return [{"member": e.member_id, **e.payload} for e in rows]


async def recalculate(db: Database, clock: FixedClock, member_id: int) -> str:
    async with db.unit_of_work() as uow:
        file = await store.current_file(uow.session)
        found = await tiers.recalculate(uow.session, member_id, file, clock.now())
        await uow.commit()
    assert found is not None
    return found.key


async def fails(code: str, call: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code, caught.value.message
    return caught.value


# --- upgrade at once --------------------------------------------------------------------------


async def test_upgrade_at_once_and_the_multiplier_from_the_next_purchase(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, points_programme())
    anna = await member(db, clock)
    await buy(service, anna, "p1", "60.00")
    assert await level(db, clock, anna) == "brons"
    assert await tier_events(db) == []
    clock.advance(timedelta(hours=1))
    # 600 + 500 crosses 1000: zilver at once, but this purchase still earned at brons.
    crossing = await buy(service, anna, "p2", "50.00")
    assert crossing.points_earned == 500
    row = await stored_tier(db, anna)
    assert (row.tier, row.since) == ("zilver", clock.now())
    assert await tier_events(db) == [
        {"member": anna, "from": "brons", "to": "zilver", "reason": "qualified"}
    ]
    clock.advance(timedelta(hours=1))
    nxt = await buy(service, anna, "p3", "10.00")
    assert nxt.points_earned == 150
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalars(
            select(LedgerEntry).where(LedgerEntry.source_id == nxt.id).order_by(LedgerEntry.id)
        )
        assert [(e.kind, e.rule, e.points) for e in rows] == [
            ("earn", "base", 100),
            ("bonus", "tier", 50),
        ]
    # 1250 + 2000 + 1000 (zilver bonus) crosses 3000: goud; the tier bonus counts too.
    await buy(service, anna, "p4", "200.00")
    assert await level(db, clock, anna) == "goud"
    assert [e["to"] for e in await tier_events(db)] == ["zilver", "goud"]
    assert (await buy(service, anna, "p5", "10.00")).points_earned == 200
    # One purchase may jump several levels.
    bob = await member(db, clock, "bob")
    await buy(service, bob, "b1", "300.00")
    assert await level(db, clock, bob) == "goud"
    assert await tier_events(db, bob) == [
        {"member": bob, "from": "brons", "to": "goud", "reason": "qualified"}
    ]


# --- no downgrade mid-period; downgrade at recalculation --------------------------------------


async def test_no_downgrade_on_a_return_mid_period(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, points_programme())
    anna = await member(db, clock)
    await buy(service, anna, "p1", "110.00")
    assert await level(db, clock, anna) == "zilver"
    assert await give_back(service, "p1", "r1", "110.00") == 1100
    progress = await status(db, clock, anna)
    assert (progress.level.key, progress.qualifying, progress.to_next) == ("zilver", 0, 3000)
    assert (await buy(service, anna, "p2", "10.00")).points_earned == 150
    # The job finds nothing to do until the period is over, even at 23:59 on 31 December.
    clock.set(NEW_YEAR_2027 - timedelta(minutes=1))
    assert await jobs.recalculate_tiers(db, clock.now()) == 0
    assert await level(db, clock, anna) == "zilver"
    assert len(await tier_events(db)) == 1
    clock.set(NEW_YEAR_2027)
    assert await jobs.recalculate_tiers(db, clock.now()) == 1
    assert await level(db, clock, anna) == "brons"


async def test_recalculation_in_the_new_year_drops_one_step(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, points_programme(one_step=True))
    fell, kept, silver, bronze = [
        await member(db, clock, name) for name in ("fell", "kept", "silver", "bronze")
    ]
    await buy(service, fell, "f1", "320.00")
    await give_back(service, "f1", "f1-r", "250.00")  # 700 qualifying points left
    await buy(service, kept, "k1", "350.00")
    await buy(service, silver, "s1", "150.00")
    await buy(service, bronze, "z1", "20.00")
    assert [await level(db, clock, m) for m in (fell, kept, silver, bronze)] == [
        "goud",
        "goud",
        "zilver",
        "brons",
    ]
    events = len(await tier_events(db))
    clock.set(NEW_YEAR_2027)
    assert await jobs.recalculate_tiers(db, clock.now()) == 4
    # 2026 decides: the ones who qualified keep their tier; goud on 700 points drops one step.
    assert [await level(db, clock, m) for m in (fell, kept, silver, bronze)] == [
        "zilver",
        "goud",
        "zilver",
        "brons",
    ]
    assert (await tier_events(db))[events:] == [
        {"member": fell, "from": "goud", "to": "zilver", "reason": "recalculated"}
    ]
    row = await stored_tier(db, fell)
    assert (row.since, row.recalculated_at) == (NEW_YEAR_2027, NEW_YEAR_2027)
    assert await jobs.recalculate_tiers(db, clock.now()) == 0  # once per period
    # Nothing earned in 2027: one more step down each at the next new year.
    clock.set(NEW_YEAR_2028 + timedelta(hours=3))
    assert await jobs.recalculate_tiers(db, clock.now()) == 4
    assert [await level(db, clock, m) for m in (fell, kept, silver, bronze)] == [
        "brons",
        "zilver",
        "brons",
        "brons",
    ]


async def test_recalculation_drops_straight_to_the_qualified_level(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, points_programme(one_step=False))
    to_silver, to_bronze = await member(db, clock, "a"), await member(db, clock, "b")
    await buy(service, to_silver, "a1", "320.00")
    await give_back(service, "a1", "a1-r", "170.00")  # 1500 left
    await buy(service, to_bronze, "b1", "320.00")
    await give_back(service, "b1", "b1-r", "300.00")  # 200 left
    assert [await level(db, clock, m) for m in (to_silver, to_bronze)] == ["goud", "goud"]
    clock.set(NEW_YEAR_2027)
    assert await jobs.recalculate_tiers(db, clock.now()) == 2
    assert [await level(db, clock, m) for m in (to_silver, to_bronze)] == ["zilver", "brons"]
    assert [(e["from"], e["to"]) for e in await tier_events(db) if e["reason"] != "qualified"] == [
        ("goud", "zilver"),
        ("goud", "brons"),
    ]


async def test_points_earned_since_new_year_count_at_a_late_recalculation(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, points_programme(one_step=False))
    anna = await member(db, clock)
    await buy(service, anna, "p1", "320.00")
    await give_back(service, "p1", "r1", "320.00")
    # The job did not run on New Year's Day; by the 2nd anna qualified for goud again.
    clock.set(NEW_YEAR_2027 + timedelta(days=1))
    await buy(service, anna, "p2", "320.00")
    assert await jobs.recalculate_tiers(db, clock.now()) == 1
    assert await level(db, clock, anna) == "goud"
    assert [e["to"] for e in await tier_events(db)] == ["goud"]


# --- a tier set by staff ----------------------------------------------------------------------


async def test_a_staff_tier_is_a_floor_until_its_date(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, points_programme(one_step=False))
    anna = await member(db, clock)
    until = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
    given = await service.set_tier_floor(ref(anna), "goud", until)
    assert given is not None
    assert (given.level.key, given.floor and given.floor.key, given.floor_until) == (
        "goud",
        "goud",
        until,
    )
    assert given.next_level is None and given.to_next is None
    assert await tier_events(db) == [
        {"member": anna, "from": "brons", "to": "goud", "reason": "set_by_staff"}
    ]
    assert (await buy(service, anna, "p1", "60.00")).points_earned == 1200  # goud: x2
    # Qualifying for zilver underneath the floor changes nothing the member sees.
    assert await level(db, clock, anna) == "goud"
    assert (await stored_tier(db, anna)).tier == "zilver"
    assert len(await tier_events(db)) == 1
    # The new year's recalculation cannot go below the floor before its date...
    clock.set(NEW_YEAR_2027)
    assert await jobs.recalculate_tiers(db, clock.now()) == 1
    assert await level(db, clock, anna) == "goud"
    assert len(await tier_events(db)) == 1
    # ...and can after it: zilver on 2026's points, the floor is gone.
    clock.set(until + timedelta(minutes=1))
    assert await recalculate(db, clock, anna) == "zilver"
    row = await stored_tier(db, anna)
    assert (row.tier, row.floor_tier, row.floor_until) == ("zilver", None, None)
    assert (await tier_events(db))[-1] == {
        "member": anna,
        "from": "goud",
        "to": "zilver",
        "reason": "recalculated",
    }
    assert (await status(db, clock, anna)).floor is None


async def test_a_floor_for_good_and_a_floor_below_the_tier(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, points_programme(one_step=False))
    anna, bob = await member(db, clock), await member(db, clock, "bob")
    # A floor under the member's own tier changes nothing.
    await buy(service, bob, "b1", "350.00")
    lower = await service.set_tier_floor(ref(bob), "zilver", JUNE + timedelta(days=30))
    assert lower is not None and lower.level.key == "goud"
    assert [e["to"] for e in await tier_events(db, bob)] == ["goud"]
    # Qualifying above a floor counts.
    await service.set_tier_floor(ref(anna), "zilver", None)
    assert (await buy(service, anna, "a1", "60.00")).points_earned == 900
    await buy(service, anna, "a2", "350.00")
    assert await level(db, clock, anna) == "goud"
    assert [(e["from"], e["to"]) for e in await tier_events(db, anna)] == [
        ("brons", "zilver"),
        ("zilver", "goud"),
    ]
    # Nothing earned in 2027: down to the floor, which has no end.
    clock.set(NEW_YEAR_2028)
    assert await recalculate(db, clock, anna) == "zilver"
    assert (await stored_tier(db, anna)).tier == "brons"
    assert [(e["from"], e["to"]) for e in await tier_events(db, anna)][-1] == ("goud", "zilver")


async def test_a_staff_tier_must_exist_and_end_in_the_future(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, points_programme())
    anna = await member(db, clock)
    error = await fails("UNKNOWN_TIER", service.set_tier_floor(ref(anna), "platina", None))
    assert error.field == "tier"
    for until in (clock.now(), clock.now() - timedelta(days=1)):
        error = await fails("INVALID_DATE", service.set_tier_floor(ref(anna), "goud", until))
        assert error.field == "until"
    await fails("NOT_FOUND", service.set_tier_floor(ref(anna + 100), "goud", None))
    assert await tier_events(db) == []
    assert await level(db, clock, anna) == "brons"


# --- progress ---------------------------------------------------------------------------------


async def test_status_shows_progress_to_the_next_tier(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, points_programme())
    anna = await member(db, clock)
    fresh = await status(db, clock, anna)
    assert (fresh.level.key, fresh.next_level and fresh.next_level.key) == ("brons", "zilver")
    assert (fresh.qualifying, fresh.to_next) == (0, 1000)
    # The period ends at midnight on 1 January in Amsterdam, in winter time.
    assert fresh.period_ends_at == NEW_YEAR_2027
    assert fresh.floor is None and fresh.floor_until is None
    await buy(service, anna, "p1", "110.00")
    middle = await status(db, clock, anna)
    assert (middle.level.key, middle.next_level and middle.next_level.key) == ("zilver", "goud")
    assert (middle.qualifying, middle.to_next) == (1100, 1900)
    assert middle.level.earn_multiplier == Decimal("1.5")
    await buy(service, anna, "p2", "200.00")  # 2000 + 1000 zilver bonus
    top = await status(db, clock, anna)
    assert (top.level.key, top.next_level, top.to_next, top.qualifying) == (
        "goud",
        None,
        None,
        4100,
    )
    clock.set(NEW_YEAR_2027)
    assert (await status(db, clock, anna)).period_ends_at == NEW_YEAR_2028
    assert (await status(db, clock, anna)).qualifying == 0


# --- spend over a rolling window --------------------------------------------------------------


async def test_spend_qualification_counts_eligible_money_minus_returns(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, SPEND_PROGRAMME)
    anna = await member(db, clock)
    # A gift card is no spend; 30.61 + 51.90 + 17.49 is exactly 100 (not 99.999... as floats).
    await service.record_purchase(
        PurchaseInput(
            ref(anna),
            "p1",
            [
                PurchaseLine("koffie", Decimal(1), Decimal("30.61")),
                PurchaseLine("bon", Decimal(1), Decimal("100.00"), "cadeaubon"),
            ],
        )
    )
    await buy(service, anna, "p2", "51.90")
    progress = await status(db, clock, anna)
    assert (progress.level.key, progress.qualifying, progress.to_next) == ("brons", 82, 18)
    assert progress.period_ends_at is None
    clock.advance(timedelta(days=1))
    await buy(service, anna, "p3", "17.49")
    assert await level(db, clock, anna) == "zilver"
    assert [e["to"] for e in await tier_events(db)] == ["zilver"]
    # Returns lower the spend at once, the tier only at the next recalculation.
    await give_back(service, "p2", "r1", "20.00")
    progress = await status(db, clock, anna)
    assert (progress.level.key, progress.qualifying, progress.to_next) == ("zilver", 80, 420)
    assert await jobs.recalculate_tiers(db, clock.now()) == 0  # done for today
    # Returning the gift card returns no spend.
    await service.record_return(ReturnInput("p1", "r2", [ReturnLine("bon", Decimal(1))]))
    assert (await status(db, clock, anna)).qualifying == 80
    # A rolling window is recalculated daily.
    clock.advance(timedelta(days=1))
    assert await jobs.recalculate_tiers(db, clock.now()) == 1
    assert await level(db, clock, anna) == "brons"
    await buy(service, anna, "p4", "90.00")  # 170: zilver again
    assert await level(db, clock, anna) == "zilver"
    # A year after p3, only p4 is left in the window.
    clock.set(JUNE + timedelta(days=365 + 1, hours=1))
    assert (await status(db, clock, anna)).qualifying == 90
    assert await jobs.recalculate_tiers(db, clock.now()) == 1
    assert await level(db, clock, anna) == "brons"
