"""The rewards catalogue and redemptions: checks in order, idempotency, codes at the till,
cancelling for points back, and the same outcome under concurrent requests on both backends."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.core.models import OutboxEvent
from loyalty.points import ledger
from loyalty.points.models import LedgerEntry, PointAccount, PointLot
from loyalty.points.service import MemberRef, PointsService
from loyalty.programme import parse_programme
from loyalty.programme.store import apply_programme, current_file
from loyalty.rewards.models import Redemption, Reward
from loyalty.rewards.service import (
    RedeemResult,
    RewardsService,
    RewardView,
    new_code,
    normalise_code,
    sync_rewards,
)
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers
from loyalty.tiers.models import MemberTier
from tests.loyalty.services import add_member, set_status

# A Sunday afternoon in March, 13:00 in Amsterdam.
MARCH_15 = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")

HEADER = """\
programme:
  key: koffie
  name: Koffie
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
tiers:
  levels:
    - {key: blue, name: Blue, threshold: 0}
    - {key: gold, name: Gold, threshold: 1000}
"""

REWARDS = """\
rewards:
  - key: coffee
    name: Free coffee
    kind: free_product
    points_cost: 100
  - key: cake
    name: Cake
    description: A slice of apple cake
    kind: free_product
    points_cost: 250
    image_url: https://example.com/cake.png
    stock: 1
    per_member: {count: 1, per: month}
    code_valid_days: 7
  - key: lounge
    name: Gold lounge
    kind: experience
    points_cost: 50
    tiers: [gold]
  - key: spring
    name: Spring special
    kind: discount
    points_cost: 10
    visible_from: "2026-03-20T00:00:00"
    visible_until: "2026-04-01T00:00:00+02:00"
"""


@pytest.fixture
def service(db: Database, clock: FixedClock) -> RewardsService:
    clock.set(MARCH_15)
    return RewardsService(db, clock)


async def programme(db: Database, clock: FixedClock, rewards: str = REWARDS) -> None:
    file = parse_programme(HEADER + rewards)
    async with db.unit_of_work() as uow:
        await apply_programme(uow.session, file, clock.now())
        await sync_rewards(uow.session, file.rewards, clock.now())
        await uow.commit()


async def member(db: Database, clock: FixedClock, name: str = "anna", points: int = 0) -> int:
    created = await add_member(db, clock, f"{name}@example.com")
    if points:
        await give(db, clock, created.id, points)
    return created.id


async def give(db: Database, clock: FixedClock, member_id: int, points: int) -> None:
    await PointsService(db, clock).adjust(
        MemberRef(member_id=member_id), points, "test", actor="test"
    )


async def reward(db: Database, key: str) -> Reward:
    async with db.unit_of_work(write=False) as uow:
        found = await uow.session.scalar(select(Reward).where(Reward.key == key))
    assert found is not None
    return found


async def available(db: Database, clock: FixedClock, member_id: int) -> int:
    async with db.unit_of_work(write=False) as uow:
        return (await ledger.balance(uow.session, member_id, clock.now())).available


async def count(db: Database, model: type) -> int:
    async with db.unit_of_work(write=False) as uow:
        query = select(func.count()).select_from(model)
        return int(await uow.session.scalar(query) or 0)


async def topics(db: Database) -> list[str]:
    async with db.unit_of_work(write=False) as uow:
        return list(await uow.session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))


async def set_tier(db: Database, clock: FixedClock, member_id: int, tier: str) -> None:
    async with db.unit_of_work() as uow:
        file = await current_file(uow.session)
        await tiers.set_floor(uow.session, member_id, file, tier, None, clock.now())
        await uow.commit()


async def clear_tier(db: Database, member_id: int) -> None:
    async with db.unit_of_work() as uow:
        row = await uow.session.get(MemberTier, member_id)
        assert row is not None
        row.tier, row.floor_tier, row.floor_until = "blue", None, None
        await uow.commit()


async def refused(code: str, call: Awaitable[object]) -> None:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code, caught.value.message


# --- the catalogue from the programme file --------------------------------------------------


async def test_sync_rewards_upserts_by_key_and_switches_off_removed_ones(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    cake = await reward(db, "cake")
    assert (cake.name, cake.description, cake.kind, cake.points_cost) == (
        "Cake",
        "A slice of apple cake",
        "free_product",
        250,
    )
    assert (cake.stock, cake.issued, cake.per_member_count, cake.per_member_period) == (
        1,
        0,
        1,
        "month",
    )
    assert (cake.image_url, cake.code_valid_days, cake.active, cake.position) == (
        "https://example.com/cake.png",
        7,
        True,
        1,
    )
    assert (await reward(db, "lounge")).tiers == ["gold"]
    spring = await reward(db, "spring")
    # Without an offset the file speaks programme time (CET here); with one, as written.
    assert spring.visible_from == datetime(2026, 3, 19, 23, 0, tzinfo=UTC)
    assert spring.visible_until == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)

    anna = await member(db, clock, points=500)
    await service.redeem(anna, cake.id, "k1")

    clock.advance(timedelta(hours=1))
    await programme(
        db,
        clock,
        """\
rewards:
  - key: cake
    name: Big cake
    kind: free_product
    points_cost: 300
    stock: 5
  - key: coffee
    name: Free coffee
    kind: free_product
    points_cost: 120
""",
    )
    cake2 = await reward(db, "cake")
    assert cake2.id == cake.id
    assert (cake2.name, cake2.description, cake2.points_cost, cake2.stock) == (
        "Big cake",
        None,
        300,
        5,
    )
    assert (cake2.issued, cake2.per_member_count, cake2.position) == (1, None, 0)
    assert cake2.updated_at == clock.now()
    assert (await reward(db, "coffee")).position == 1
    assert not (await reward(db, "lounge")).active
    assert not (await reward(db, "spring")).active
    assert await count(db, Reward) == 4

    await programme(db, clock)  # back again
    assert (await reward(db, "lounge")).active
    assert (await reward(db, "cake")).issued == 1


async def test_catalogue_lists_visible_rewards_in_file_order_with_flags(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anonymous = await service.catalogue(None)
    assert [v.reward.key for v in anonymous] == ["coffee", "cake", "lounge"]  # spring: later
    assert all(not v.affordable for v in anonymous)
    assert {v.reward.key: v.available for v in anonymous} == {
        "coffee": True,
        "cake": True,
        "lounge": False,  # tier-only
    }

    anna = await member(db, clock, points=200)
    flags = {v.reward.key: (v.available, v.affordable) for v in await service.catalogue(anna)}
    assert flags == {
        "coffee": (True, True),
        "cake": (True, False),
        "lounge": (False, True),
    }
    await set_tier(db, clock, anna, "gold")
    await give(db, clock, anna, 100)
    await service.redeem(anna, (await reward(db, "cake")).id, "cake-1")
    flags = {v.reward.key: (v.available, v.affordable) for v in await service.catalogue(anna)}
    assert flags == {
        "coffee": (True, False),  # 50 points left
        "cake": (False, False),  # out of stock (and her monthly one is used)
        "lounge": (True, True),
    }

    ben = await member(db, clock, "ben", points=1000)
    views = await service.catalogue(ben)
    assert all(isinstance(v, RewardView) for v in views)
    assert {v.reward.key: v.available for v in views}["cake"] is False  # stock 1, gone

    await set_status(db, ben, "blocked")
    assert not any(v.available for v in await service.catalogue(ben))

    clock.set(datetime(2026, 3, 19, 23, 0, tzinfo=UTC))  # midnight in Amsterdam
    assert [v.reward.key for v in await service.catalogue(None)][-1] == "spring"
    clock.set(datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
    assert "spring" not in [v.reward.key for v in await service.catalogue(None)]


async def test_catalogue_counts_the_limit_in_its_period(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(
        db,
        clock,
        """\
rewards:
  - {key: daily, name: Daily, kind: discount, points_cost: 1, per_member: {count: 1, per: day}}
  - {key: twice, name: Twice, kind: discount, points_cost: 1, per_member: {count: 2, per: ever}}
  - {key: free, name: Free, kind: discount, points_cost: 1}
""",
    )
    anna = await member(db, clock, points=100)
    ids = {key: (await reward(db, key)).id for key in ("daily", "twice", "free")}
    await service.redeem(anna, ids["daily"], "d1")
    await service.redeem(anna, ids["twice"], "t1")

    def flags(views: list[RewardView]) -> dict[str, bool]:
        return {v.reward.key: v.available for v in views}

    assert flags(await service.catalogue(anna)) == {"daily": False, "twice": True, "free": True}
    await service.redeem(anna, ids["twice"], "t2")
    assert flags(await service.catalogue(anna)) == {"daily": False, "twice": False, "free": True}
    clock.advance(timedelta(days=1))
    assert flags(await service.catalogue(anna)) == {"daily": True, "twice": False, "free": True}


# --- redeeming ------------------------------------------------------------------------------


async def test_redeem_spends_points_and_issues_a_code(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=300)
    cake = await reward(db, "cake")
    result = await service.redeem(anna, cake.id, "  first  ")
    assert isinstance(result, RedeemResult)
    assert not result.replayed
    redemption = result.redemption
    assert CODE.fullmatch(redemption.code)
    assert (redemption.status, redemption.points, redemption.member_id) == ("issued", 250, anna)
    assert redemption.idempotency_key == f"{anna}:first"
    assert redemption.expires_at == MARCH_15 + timedelta(days=7)
    assert result.reward.id == cake.id and result.reward.issued == 1
    assert result.balance.available == 50
    assert await available(db, clock, anna) == 50
    assert (await reward(db, "cake")).issued == 1
    async with db.unit_of_work(write=False) as uow:
        entry = await uow.session.get(LedgerEntry, redemption.spend_entry_id)
    assert entry is not None
    assert (entry.kind, entry.points, entry.source_type, entry.source_id) == (
        "spend",
        -250,
        "redemption",
        redemption.id,
    )
    assert (await topics(db))[-2:] == ["reward.redeemed", "balance.changed"]
    async with db.unit_of_work(write=False) as uow:
        event = await uow.session.scalar(
            select(OutboxEvent).where(OutboxEvent.topic == "reward.redeemed")
        )
    assert event is not None and event.member_id == anna
    assert event.payload["redemption_id"] == redemption.id
    assert event.payload["reward_key"] == "cake"


async def test_the_same_key_replays_the_first_result(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=300)
    coffee = await reward(db, "coffee")
    first = await service.redeem(anna, coffee.id, "tap-1")
    events = len(await topics(db))
    again = await service.redeem(anna, coffee.id, "tap-1")
    assert again.replayed
    assert (again.redemption.id, again.redemption.code) == (
        first.redemption.id,
        first.redemption.code,
    )
    assert again.balance.available == 200
    assert await available(db, clock, anna) == 200
    assert (await reward(db, "coffee")).issued == 1
    assert await count(db, Redemption) == 1
    assert len(await topics(db)) == events
    # Replays even when the reward has since gone from the catalogue.
    await programme(db, clock, "rewards: []\n")
    assert (await service.redeem(anna, coffee.id, "tap-1")).replayed


async def test_the_same_key_for_anything_else_is_a_conflict(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=1000)
    ben = await member(db, clock, "ben", points=1000)
    coffee, cake = await reward(db, "coffee"), await reward(db, "cake")
    await service.redeem(anna, coffee.id, "k")
    await refused("IDEMPOTENCY_CONFLICT", service.redeem(anna, cake.id, "k"))
    await refused("INVALID_IDEMPOTENCY_KEY", service.redeem(ben, coffee.id, "   "))
    await refused("INVALID_IDEMPOTENCY_KEY", service.redeem(ben, coffee.id, "x" * 161))
    assert await count(db, Redemption) == 1
    assert await available(db, clock, ben) == 1000
    # Another member's key is theirs alone: the same text is a fresh key for Ben.
    assert not (await service.redeem(ben, coffee.id, "k")).replayed
    assert (await reward(db, "cake")).issued == 0


async def test_checks_run_in_order_and_change_nothing(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(
        db,
        clock,
        """\
rewards:
  - {key: hidden, name: Hidden, kind: discount, points_cost: 900, stock: 0,
     visible_from: "2027-01-01T00:00:00Z"}
  - {key: retired, name: Retired, kind: discount, points_cost: 900, stock: 0, active: false}
  - {key: once, name: Once, kind: discount, points_cost: 30, stock: 1, tiers: [gold],
     per_member: {count: 1, per: month}}
  - {key: yearly, name: Yearly, kind: discount, points_cost: 30, tiers: [gold],
     per_member: {count: 1, per: year}}
  - {key: gone, name: Gone, kind: discount, points_cost: 900, stock: 0}
  - {key: gold, name: Gold, kind: discount, points_cost: 900, tiers: [gold]}
  - {key: dear, name: Dear, kind: discount, points_cost: 900}
""",
    )
    anna = await member(db, clock, points=100)
    keys = ("hidden", "retired", "once", "yearly", "gone", "gold", "dear")
    ids = {key: (await reward(db, key)).id for key in keys}
    await set_tier(db, clock, anna, "gold")
    await service.redeem(anna, ids["once"], "once-1")  # its only stock, and her limit
    await service.redeem(anna, ids["yearly"], "yearly-1")  # her limit; 40 points left
    await clear_tier(db, anna)
    await set_status(db, anna, "blocked")
    before = (await count(db, Redemption), await available(db, clock, anna), len(await topics(db)))

    # Invisible / inactive / unknown beat everything else (out of stock, unaffordable...).
    await refused("REWARD_NOT_AVAILABLE", service.redeem(anna, ids["hidden"], "a"))
    await refused("REWARD_NOT_AVAILABLE", service.redeem(anna, ids["retired"], "b"))
    await refused("REWARD_NOT_AVAILABLE", service.redeem(anna, 999_999, "c"))
    # Out of stock beats limit, status, tier and points.
    await refused("OUT_OF_STOCK", service.redeem(anna, ids["once"], "d"))
    await refused("OUT_OF_STOCK", service.redeem(anna, ids["gone"], "d"))
    # The limit beats status and tier.
    await refused("LIMIT_REACHED", service.redeem(anna, ids["yearly"], "e"))
    # A blocked member beats tier and points.
    await refused("MEMBER_NOT_ACTIVE", service.redeem(anna, ids["gold"], "f"))
    await refused("MEMBER_NOT_ACTIVE", service.redeem(anna, ids["dear"], "f"))
    await set_status(db, anna, "active")
    # The tier beats points.
    await refused("TIER_REQUIRED", service.redeem(anna, ids["gold"], "g"))
    await refused("INSUFFICIENT_POINTS", service.redeem(anna, ids["dear"], "h"))

    after = (await count(db, Redemption), await available(db, clock, anna), len(await topics(db)))
    assert after == before == (2, 40, before[2])
    issued = [(await reward(db, key)).issued for key in keys]
    assert issued == [0, 0, 1, 1, 0, 0, 0]
    # The failed keys were not used up.
    await give(db, clock, anna, 1000)
    assert not (await service.redeem(anna, ids["dear"], "h")).replayed


async def test_tier_only_reward(db: Database, clock: FixedClock, service: RewardsService) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=500)
    lounge = await reward(db, "lounge")
    await refused("TIER_REQUIRED", service.redeem(anna, lounge.id, "l1"))
    await set_tier(db, clock, anna, "gold")
    result = await service.redeem(anna, lounge.id, "l1")
    assert result.balance.available == 450


async def test_visibility_window(db: Database, clock: FixedClock, service: RewardsService) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=500)
    spring = await reward(db, "spring")
    clock.set(datetime(2026, 3, 19, 22, 59, 59, tzinfo=UTC))
    await refused("REWARD_NOT_AVAILABLE", service.redeem(anna, spring.id, "s1"))
    clock.set(datetime(2026, 3, 19, 23, 0, tzinfo=UTC))
    await service.redeem(anna, spring.id, "s1")
    clock.set(datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC))
    await service.redeem(anna, spring.id, "s2")
    clock.set(datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
    await refused("REWARD_NOT_AVAILABLE", service.redeem(anna, spring.id, "s3"))


async def test_per_member_limit_resets_next_month_in_programme_time(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(
        db,
        clock,
        """\
rewards:
  - {key: monthly, name: Monthly, kind: discount, points_cost: 10,
     per_member: {count: 2, per: month}}
""",
    )
    anna = await member(db, clock, points=1000)
    ben = await member(db, clock, "ben", points=1000)
    monthly = (await reward(db, "monthly")).id
    await service.redeem(anna, monthly, "m1")
    first = await service.redeem(anna, monthly, "m2")
    await refused("LIMIT_REACHED", service.redeem(anna, monthly, "m3"))
    await service.redeem(ben, monthly, "b1")  # per member, not per reward

    # A cancelled one no longer counts.
    await service.cancel(first.redemption.id, member_id=anna, actor=None)
    await service.redeem(anna, monthly, "m3")
    await refused("LIMIT_REACHED", service.redeem(anna, monthly, "m4"))

    clock.set(datetime(2026, 3, 31, 21, 59, tzinfo=UTC))  # 23:59 on 31 March in Amsterdam
    await refused("LIMIT_REACHED", service.redeem(anna, monthly, "m4"))
    clock.set(datetime(2026, 3, 31, 22, 0, tzinfo=UTC))  # 1 April, 00:00 CEST
    await service.redeem(anna, monthly, "m4")
    await service.redeem(anna, monthly, "m5")
    await refused("LIMIT_REACHED", service.redeem(anna, monthly, "m6"))


# --- codes at the till ----------------------------------------------------------------------


def test_codes_are_readable_and_random() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(CODE.fullmatch(code) for code in codes)
    assert normalise_code(" k7qf3m9x2rtd ") == "K7QF-3M9X-2RTD"
    assert normalise_code("K7QF-3M9X-2RTD") == "K7QF-3M9X-2RTD"
    assert normalise_code("k7qf 3m9x 2rtd") == "K7QF-3M9X-2RTD"
    assert normalise_code("OIL0-0000-0000") == "0110-0000-0000"  # Crockford's misreadings
    assert normalise_code("K7QF-3M9X-2RT") is None
    assert normalise_code("K7QF-3M9X-2RTU") is None
    assert normalise_code("") is None


async def test_codes_are_unique(db: Database, clock: FixedClock, service: RewardsService) -> None:
    await programme(
        db, clock, "rewards:\n  - {key: tiny, name: Tiny, kind: discount, points_cost: 1}\n"
    )
    anna = await member(db, clock, points=60)
    tiny = (await reward(db, "tiny")).id
    codes = [(await service.redeem(anna, tiny, f"k{i}")).redemption.code for i in range(60)]
    assert len(set(codes)) == 60
    assert all(CODE.fullmatch(code) for code in codes)


async def test_a_code_is_taken_once(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=300)
    issued = (await service.redeem(anna, (await reward(db, "coffee")).id, "c1")).redemption
    clock.advance(timedelta(hours=2))
    used = await service.redeem_code(f"  {issued.code.replace('-', '').lower()} ", "till-7")
    assert (used.id, used.status, used.redeemed_by) == (issued.id, "redeemed", "till-7")
    assert used.redeemed_at == clock.now()
    assert (await topics(db))[-1] == "reward.code_redeemed"
    await refused("CODE_ALREADY_USED", service.redeem_code(issued.code, "till-8"))
    await refused("CODE_NOT_FOUND", service.redeem_code("AAAA-BBBB-CCCC", "till-7"))
    await refused("CODE_NOT_FOUND", service.redeem_code("not a code", "till-7"))
    # Used: it cannot be cancelled for the points back.
    await refused("NOT_CANCELLABLE", service.cancel(issued.id, member_id=anna, actor=None))
    await refused("NOT_CANCELLABLE", service.cancel(issued.id, member_id=None, actor="staff"))
    assert await available(db, clock, anna) == 200


async def test_an_expired_code_is_refused(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=600)
    cake = await reward(db, "cake")  # codes valid 7 days
    coffee = await reward(db, "coffee")  # 30 days
    a = (await service.redeem(anna, cake.id, "a")).redemption
    b = (await service.redeem(anna, coffee.id, "b")).redemption
    clock.advance(timedelta(days=7, seconds=-1))
    await service.redeem_code(a.code, "till")
    clock.advance(timedelta(seconds=1))
    await refused("CODE_ALREADY_USED", service.redeem_code(a.code, "till"))
    clock.advance(timedelta(days=30 - 7))
    await refused("CODE_EXPIRED", service.redeem_code(b.code, "till"))
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.get(Redemption, b.id)
    assert row is not None and row.status == "issued"


# --- cancelling -----------------------------------------------------------------------------


async def test_cancel_gives_points_back_to_the_same_lots_and_releases_stock(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock)
    soon, later = MARCH_15 + timedelta(days=10), MARCH_15 + timedelta(days=100)
    async with db.unit_of_work() as uow:
        s = uow.session
        account = await ledger.lock_account(s, anna, clock.now())
        lots = []
        for points, expires in ((200, later), (150, soon), (100, None)):
            entry = await ledger.credit(
                s,
                account,
                "bonus",
                points,
                occurred_at=clock.now(),
                now=clock.now(),
                available_at=clock.now(),
                expires_at=expires,
                meta=ledger.EntryMeta("test"),
            )
            lots.append(entry.id)
        await uow.commit()

    async def remaining() -> list[int]:
        async with db.unit_of_work(write=False) as uow:
            rows = {
                lot.entry_id: lot.remaining for lot in await uow.session.scalars(select(PointLot))
            }
        return [rows[entry_id] for entry_id in lots]

    cake = await reward(db, "cake")
    result = await service.redeem(anna, cake.id, "cake")
    assert await remaining() == [0 + 100, 0, 100]  # soonest-expiring first: 150, then 100 of 200
    assert (await reward(db, "cake")).issued == 1
    ben = await member(db, clock, "ben", points=500)
    await refused("OUT_OF_STOCK", service.redeem(ben, cake.id, "ben-cake"))

    # Another member cannot see it; an unknown id is not found either.
    await refused("NOT_FOUND", service.cancel(result.redemption.id, member_id=ben, actor=None))
    await refused("NOT_FOUND", service.cancel(999_999, member_id=None, actor="staff"))

    clock.advance(timedelta(days=1))
    cancelled = await service.cancel(result.redemption.id, member_id=anna, actor=None)
    assert (cancelled.status, cancelled.cancelled_at) == ("cancelled", clock.now())
    assert await remaining() == [200, 150, 100]
    assert await available(db, clock, anna) == 450
    assert (await reward(db, "cake")).issued == 0
    assert (await topics(db))[-2:] == ["reward.cancelled", "balance.changed"]
    async with db.unit_of_work(write=False) as uow:
        refund = await uow.session.scalar(
            select(LedgerEntry).where(LedgerEntry.kind == "refund", LedgerEntry.member_id == anna)
        )
        account_row = await uow.session.get(PointAccount, anna)
    assert refund is not None and refund.points == 250
    assert (refund.source_type, refund.source_id) == ("redemption", cancelled.id)
    assert account_row is not None and account_row.balance == 450
    assert account_row.lifetime_spent == 0

    await refused("NOT_CANCELLABLE", service.cancel(cancelled.id, member_id=anna, actor=None))
    await refused("CODE_CANCELLED", service.redeem_code(cancelled.code, "till"))
    # The stock is free again: Ben gets the cake now (and his key was not used up).
    await service.redeem(ben, cake.id, "ben-cake")


async def test_staff_can_cancel_any_code(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=100)
    issued = (await service.redeem(anna, (await reward(db, "coffee")).id, "c")).redemption
    cancelled = await service.cancel(issued.id, member_id=None, actor="staff:jo")
    assert cancelled.status == "cancelled"
    assert await available(db, clock, anna) == 100
    async with db.unit_of_work(write=False) as uow:
        refund = await uow.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "refund"))
    assert refund is not None and refund.actor == "staff:jo"


async def test_redemptions_newest_first(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=1000)
    ben = await member(db, clock, "ben", points=1000)
    coffee = (await reward(db, "coffee")).id
    mine = [(await service.redeem(anna, coffee, f"a{i}")).redemption.id for i in range(5)]
    await service.redeem(ben, coffee, "b")
    page = await service.redemptions(anna, 3, None)
    assert [r.id for r in page] == mine[::-1][:3]
    rest = await service.redemptions(anna, 3, page[-1].id)
    assert [r.id for r in rest] == mine[::-1][3:]
    assert await service.redemptions(anna, 0, None) == []


# --- concurrency ----------------------------------------------------------------------------


async def test_concurrent_redeems_spend_no_more_than_the_balance(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=300)  # exactly 3 coffees
    coffee = (await reward(db, "coffee")).id
    results = await asyncio.gather(
        *(service.redeem(anna, coffee, f"tap-{i}") for i in range(12)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, RedeemResult)]
    lost = [r for r in results if not isinstance(r, RedeemResult)]
    assert len(won) == 3
    assert all(isinstance(e, DomainError) and e.code == "INSUFFICIENT_POINTS" for e in lost), lost
    assert len({r.redemption.code for r in won}) == 3
    assert await available(db, clock, anna) == 0
    assert await count(db, Redemption) == 3
    assert (await reward(db, "coffee")).issued == 3
    async with db.unit_of_work(write=False) as uow:
        account = await uow.session.get(PointAccount, anna)
        total = await uow.session.scalar(
            select(func.sum(LedgerEntry.points)).where(LedgerEntry.member_id == anna)
        )
        left = await uow.session.scalar(
            select(func.sum(PointLot.remaining)).where(PointLot.member_id == anna)
        )
    assert account is not None and account.balance == 0 == total == left


async def test_concurrent_tills_take_a_code_once(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=100)
    code = (await service.redeem(anna, (await reward(db, "coffee")).id, "c")).redemption.code
    results = await asyncio.gather(
        *(service.redeem_code(code, f"till-{i}") for i in range(10)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, Redemption)]
    lost = [r for r in results if not isinstance(r, Redemption)]
    assert len(won) == 1
    assert all(isinstance(e, DomainError) and e.code == "CODE_ALREADY_USED" for e in lost), lost
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.scalar(select(Redemption).where(Redemption.code == code))
    assert row is not None and row.status == "redeemed" and row.redeemed_by == won[0].redeemed_by


async def test_concurrent_members_share_the_stock(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(
        db,
        clock,
        "rewards:\n  - {key: two, name: Two, kind: gift_card, points_cost: 100, stock: 2}\n",
    )
    members = [await member(db, clock, f"m{i}", points=100) for i in range(6)]
    two = (await reward(db, "two")).id
    results = await asyncio.gather(
        *(service.redeem(m, two, f"key-{m}") for m in members), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, RedeemResult)]
    lost = [r for r in results if not isinstance(r, RedeemResult)]
    assert len(won) == 2
    assert all(isinstance(e, DomainError) and e.code == "OUT_OF_STOCK" for e in lost), lost
    assert (await reward(db, "two")).issued == 2
    assert await count(db, Redemption) == 2
    balances = sorted([await available(db, clock, m) for m in members])
    assert balances == [0, 0, 100, 100, 100, 100]


async def test_concurrent_cancel_and_till_one_wins(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=100)
    issued = (await service.redeem(anna, (await reward(db, "coffee")).id, "c")).redemption
    results = await asyncio.gather(
        service.redeem_code(issued.code, "till"),
        service.cancel(issued.id, member_id=anna, actor=None),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Redemption) for r in results) == 1
    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(errors) == 1 and errors[0].code in ("CODE_CANCELLED", "NOT_CANCELLABLE")
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.get(Redemption, issued.id)
    assert row is not None
    assert await available(db, clock, anna) == (100 if row.status == "cancelled" else 0)
    assert (await reward(db, "coffee")).issued == (0 if row.status == "cancelled" else 1)


async def test_concurrent_retries_with_one_key_redeem_once(
    db: Database, clock: FixedClock, service: RewardsService
) -> None:
    await programme(db, clock)
    anna = await member(db, clock, points=1000)
    ben = await member(db, clock, "ben", points=1000)
    coffee = (await reward(db, "coffee")).id
    results = await asyncio.gather(*(service.redeem(anna, coffee, "retry") for _ in range(6)))
    assert sorted(r.replayed for r in results) == [False] + [True] * 5
    assert len({r.redemption.id for r in results}) == 1
    assert await available(db, clock, anna) == 900

    # Keys belong to their member: the same new key from two members at once redeems twice.
    results2 = await asyncio.gather(
        service.redeem(anna, coffee, "shared"),
        service.redeem(ben, coffee, "shared"),
    )
    assert [r.replayed for r in results2] == [False, False]
    assert results2[0].redemption.id != results2[1].redemption.id
    assert await count(db, Redemption) == 3
    assert await available(db, clock, anna) + await available(db, clock, ben) == 1700
