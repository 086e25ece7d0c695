"""Programme rules that went wrong before, on SQLite and PostgreSQL: a SKU on several lines
at different prices, a tier kept after a full return whose claw-back was waived, back-dated
purchases and events, returns across a period boundary, waived claw-backs reported apart,
and rolling windows in calendar days across both daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.points.service import PointsService
from loyalty.storage.database import Database
from tests.loyalty.rules_support import (
    HEADER,
    back,
    buy,
    event,
    give_back,
    install,
    level,
    line,
    member,
    points_of,
    qualifying,
    recalculate,
    spend,
    tiers_programme,
)

DECEMBER = datetime(2026, 12, 10, 11, 0, tzinfo=UTC)
NEW_YEAR_2027 = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # 00:00 in Amsterdam
CALENDAR = "  qualify_on: points\n  window: calendar_year\n"


@pytest.fixture
def service(db: Database, clock: FixedClock) -> PointsService:
    clock.set(DECEMBER)
    return PointsService(db, clock)


# --- 1. a SKU on several lines at different prices ------------------------------------------


async def test_a_sku_on_two_lines_is_returned_at_the_prices_it_was_bought(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, HEADER)
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("sok", "10.00"), line("sok", "2.00"))
    # Both units: 12.00 came back, every point of it.
    both = await give_back(service, "p1", "r1", back("sok", "2"))
    assert both.points_reversed == 120
    assert both.purchase.returned_total == 12
    # The cheap line first: one unit comes back at the dearest price still unreturned.
    await buy(service, anna, "p2", line("sok", "2.00"), line("sok", "10.00"))
    one = await give_back(service, "p2", "r2", back("sok"))
    assert one.points_reversed == 100
    other = await give_back(service, "p2", "r3", back("sok"))
    assert other.points_reversed == 20
    with pytest.raises(DomainError) as refused:
        await give_back(service, "p2", "r4", back("sok"))
    assert refused.value.code == "RETURN_EXCEEDS_PURCHASE"


async def test_units_of_one_line_and_quantities_split_across_lines(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, HEADER)
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("sok", "1.00", "3"), line("sok", "4.00", "2"))
    # 3 of 5: two at 4.00, one at 1.00.
    first = await give_back(service, "p1", "r1", back("sok", "3"))
    assert (first.points_reversed, first.purchase.returned_total) == (90, 9)
    rest = await give_back(service, "p1", "r2", back("sok", "2"))
    assert (rest.points_reversed, rest.purchase.returned_total) == (20, 11)


# --- 2. a tier kept after a full return -----------------------------------------------------


async def test_a_full_return_after_spending_costs_the_tier_at_recalculation(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, tiers_programme(CALENDAR))
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("jas", "110.00"))
    assert await level(service, anna) == "zilver"
    await spend(db, clock, anna, 1100)
    result = await give_back(service, "p1", "r1", amount="110.00")
    assert (result.points_reversed, result.points_waived) == (0, 1100)
    assert (await points_of(db, clock, anna)).available == 0
    # The goods came back, so nothing qualifies: the tier goes at the recalculation.
    assert await qualifying(service, anna) == 0
    clock.set(NEW_YEAR_2027)
    assert await recalculate(db, clock) == 1
    assert await level(service, anna) == "brons"


# --- 3. back-dated purchases and events -----------------------------------------------------


@pytest.mark.parametrize("late", ["purchase", "event"])
async def test_a_late_upload_counts_for_its_own_period_whatever_the_order(
    db: Database, clock: FixedClock, service: PointsService, late: str
) -> None:
    rules = "  rules:\n    - {key: review, kind: event, event: review, points: 200}\n"
    await install(db, clock, HEADER + rules + f"tiers:\n{CALENDAR}" + LEVELS_ONLY)
    anna, bob = await member(db, clock), await member(db, clock, "bob")
    for who in (anna, bob):
        await buy(service, who, f"p-{who}", line("jas", "90.00"))
    eve = NEW_YEAR_2027 - timedelta(minutes=10)  # 23:50 on New Year's Eve

    async def upload(who: int) -> None:
        if late == "purchase":
            await buy(service, who, f"late-{who}", line("sjaal", "20.00"), at=eve)
        else:
            assert await event(service, who, f"late-{who}", "review", eve) == 200

    # Anna's sale reaches Trouw before midnight, Bob's at 00:10, after the recalculation.
    clock.set(eve + timedelta(minutes=5))
    await upload(anna)
    clock.set(NEW_YEAR_2027)
    assert await recalculate(db, clock) == 2
    clock.set(NEW_YEAR_2027 + timedelta(minutes=10))
    await upload(bob)
    assert await level(service, anna) == await level(service, bob) == "zilver"
    # And the year they earned it in keeps them there at the next recalculation.
    clock.set(NEW_YEAR_2027 + timedelta(days=2))
    assert await recalculate(db, clock) == 0
    assert await level(service, bob) == "zilver"


LEVELS_ONLY = """\
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: zilver, name: Zilver, threshold: 1000}
    - {key: goud, name: Goud, threshold: 3000}
"""


# --- 4. returns across a period boundary ----------------------------------------------------


@pytest.mark.parametrize("qualify_on", ["points", "spend"])
async def test_a_return_counts_in_the_period_of_its_purchase(
    db: Database, clock: FixedClock, service: PointsService, qualify_on: str
) -> None:
    thresholds = "1000" if qualify_on == "points" else "100"
    text = tiers_programme(f"  qualify_on: {qualify_on}\n  window: calendar_year\n")
    await install(db, clock, text.replace("threshold: 1000", f"threshold: {thresholds}"))
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("jas", "50.00"))
    clock.set(NEW_YEAR_2027 + timedelta(days=4))
    await give_back(service, "p1", "r1", amount="50.00")
    # 2027 so far: the return of a 2026 purchase takes nothing off it.
    await buy(service, anna, "p2", line("jas", "100.00"))
    assert await level(service, anna) == "zilver"
    assert await qualifying(service, anna) == (1000 if qualify_on == "points" else 100)


# --- 5. what a return took, and what it waived ----------------------------------------------


async def test_taken_and_waived_are_reported_apart(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, HEADER)
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("jas", "20.00"))
    await spend(db, clock, anna, 150)
    first = await give_back(service, "p1", "r1", amount="10.00")
    # 100 undone, 50 still on the balance: 50 taken, 50 waived.
    assert (first.points_reversed, first.points_waived) == (50, 50)
    second = await give_back(service, "p1", "r2", amount="10.00")
    assert (second.points_reversed, second.points_waived) == (0, 100)
    purchase = second.purchase
    assert (purchase.points_reversed, purchase.points_waived) == (200, 150)
    assert (await points_of(db, clock, anna)).available == 0


# --- 6. rolling windows in calendar days ----------------------------------------------------

ROLLING = "  qualify_on: points\n  window: rolling\n  rolling_days: 30\n"


@pytest.mark.parametrize(
    ("bought", "now", "counts"),
    [
        # Spring forward (29 March): 30 days before 10 April 12:00 is 11 March 12:00 (CET).
        (
            datetime(2026, 3, 11, 10, 30, tzinfo=UTC),
            datetime(2026, 4, 10, 10, 0, tzinfo=UTC),
            False,
        ),
        (datetime(2026, 3, 11, 11, 30, tzinfo=UTC), datetime(2026, 4, 10, 10, 0, tzinfo=UTC), True),
        # Fall back (25 October): 30 days before 10 November 12:00 is 11 October 12:00 (CEST).
        (
            datetime(2026, 10, 11, 10, 30, tzinfo=UTC),
            datetime(2026, 11, 10, 11, 0, tzinfo=UTC),
            True,
        ),
        (
            datetime(2026, 10, 11, 9, 30, tzinfo=UTC),
            datetime(2026, 11, 10, 11, 0, tzinfo=UTC),
            False,
        ),
    ],
)
async def test_rolling_windows_count_calendar_days_across_daylight_saving(
    db: Database,
    clock: FixedClock,
    service: PointsService,
    bought: datetime,
    now: datetime,
    counts: bool,
) -> None:
    clock.set(bought)
    await install(db, clock, tiers_programme(ROLLING))
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("jas", "12.00"))
    clock.set(now)
    assert await qualifying(service, anna) == (120 if counts else 0)
