"""The programme-file settings for expiry, pending points and tiers, on SQLite and
PostgreSQL: month ends, leap years and both daylight-saving changes in Europe/Amsterdam."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.points.models import LedgerEntry, PointLot
from loyalty.points.service import PointsService
from loyalty.points.timeline import add_months, expiry_of
from loyalty.programme import parse_programme
from loyalty.programme.loader import ProgrammeFileError
from loyalty.programme.spec import ExpirySpec
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers
from tests.loyalty.rules_support import (
    HEADER,
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

AMS = ZoneInfo("Europe/Amsterdam")


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=AMS).astimezone(UTC)


# --- expiry -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earned", "months", "last_day"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # clamped to the month's end
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 3, 15), 1, date(2026, 4, 15)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
    ],
)
def test_after_months_is_the_same_day_clamped_to_the_month_end(
    earned: date, months: int, last_day: date
) -> None:
    assert add_months(earned, months) == last_day
    spec = ExpirySpec(method="after_months", months=months)
    at = local(earned.year, earned.month, earned.day, 12)
    gone = last_day + timedelta(days=1)
    assert expiry_of(spec, at, AMS) == local(gone.year, gone.month, gone.day)


@pytest.mark.parametrize(
    ("earned", "gone"),
    [
        # Spring forward: 29 March has 23 hours, and ends at 22:00 UTC.
        (local(2026, 3, 29, 12), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
        # Fall back: 25 October has 25 hours, and ends at 23:00 UTC.
        (local(2026, 10, 25, 1), datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
        # Just after midnight, local time: still that local day.
        (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), local(2026, 7, 2)),
    ],
)
def test_end_of_day_in_programme_time(earned: datetime, gone: datetime) -> None:
    assert expiry_of(ExpirySpec(method="end_of_day"), earned, AMS) == gone


@pytest.mark.parametrize(
    ("round_up_to", "gone"),
    [
        ("none", local(2026, 4, 5)),  # after 10 days: the end of Saturday 4 April
        ("week", local(2026, 4, 6)),  # to the end of Sunday
        ("month", local(2026, 5, 1)),
        ("quarter", local(2026, 7, 1)),
        ("half_year", local(2026, 7, 1)),
        ("year", local(2027, 1, 1)),
    ],
)
def test_expiry_rounds_up_to_the_end_of_a_period(round_up_to: str, gone: datetime) -> None:
    spec = ExpirySpec(method="after_days", days=10, round_up_to=round_up_to)
    assert expiry_of(spec, local(2026, 3, 25, 9), AMS) == gone


def test_half_years_and_quarters_round_within_their_own_half() -> None:
    spec = ExpirySpec(method="end_of_day", round_up_to="half_year")
    assert expiry_of(spec, local(2028, 8, 1, 9), AMS) == local(2029, 1, 1)
    spec = ExpirySpec(method="end_of_day", round_up_to="quarter")
    assert expiry_of(spec, local(2028, 2, 29, 9), AMS) == local(2028, 4, 1)


def programme(points: str, tiers: str = "") -> str:
    return HEADER + f"points:\n{points}" + tiers


async def lots(db: Database, member_id: int) -> list[PointLot]:
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(
                select(PointLot).where(PointLot.member_id == member_id).order_by(PointLot.id)
            )
        )


async def test_expiry_counted_from_when_points_become_available(
    db: Database, clock: FixedClock
) -> None:
    service = PointsService(db, clock)
    clock.set(local(2026, 3, 20, 12))
    expiry = "  expiry: {method: after_days, days: 30, counted_from: %s}\n"
    await install(db, clock, programme("  pending_days: 14\n" + expiry % "available"))
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("jas", "10.00"))
    # Available on 3 April at 12:00 (summer time by then); gone at the end of 3 May.
    [lot] = await lots(db, anna)
    assert (lot.available_at, lot.expires_at) == (local(2026, 4, 3, 12), local(2026, 5, 4))
    await install(db, clock, programme("  pending_days: 14\n" + expiry % "earning"))
    await buy(service, anna, "p2", line("jas", "10.00"))
    assert (await lots(db, anna))[1].expires_at == local(2026, 4, 20)


# --- pending until an event -------------------------------------------------------------------

AWAITING = "  pending_days: 14\n  pending_until_event: order.fulfilled\n"


async def test_points_wait_for_the_event_that_names_their_purchase(
    db: Database, clock: FixedClock
) -> None:
    service = PointsService(db, clock)
    clock.set(local(2026, 10, 20, 12))
    expiry = "  expiry: {method: after_days, days: 30, counted_from: available}\n"
    await install(db, clock, programme(AWAITING + expiry))
    anna, bob = await member(db, clock), await member(db, clock, "bob")
    await buy(service, anna, "web-1", line("jas", "10.00"))
    await buy(service, bob, "web-2", line("jas", "10.00"))
    clock.set(local(2026, 12, 1, 12))  # long after any number of days: still waiting
    assert ((await points_of(db, clock, anna)).pending, (await lots(db, anna))[0].expires_at) == (
        100,
        None,
    )
    # Another member's event, an unknown purchase, another event: nothing moves.
    await event(service, bob, "e1", "order.fulfilled", purchaseExternalId="web-1")
    await event(service, anna, "e2", "order.fulfilled", purchaseExternalId="nope")
    await event(service, anna, "e3", "order.shipped", purchaseExternalId="web-1")
    assert (await points_of(db, clock, anna)).pending == 100
    # Fulfilled on 24 October (the day before the clocks go back): 14 days later at 12:00.
    fulfilled = local(2026, 10, 24, 12)
    await event(service, anna, "e4", "order.fulfilled", fulfilled, purchaseExternalId="web-1")
    [lot] = await lots(db, anna)
    assert lot.available_at == local(2026, 11, 7, 12)
    assert lot.expires_at == local(2026, 12, 8)
    current = await points_of(db, clock, anna)
    assert (current.available, current.pending) == (100, 0)
    # A return while waiting takes the waiting points back first.
    result = await give_back(service, "web-2", "r1", amount="10.00")
    assert result.points_reversed == 100
    assert (await points_of(db, clock, bob)).pending == 0


# --- tiers --------------------------------------------------------------------------------------

NEW_YEAR_2027 = local(2027, 1, 1)


async def test_tiers_on_the_balance(db: Database, clock: FixedClock) -> None:
    service = PointsService(db, clock)
    clock.set(local(2026, 6, 10, 12))
    await install(db, clock, tiers_programme("  qualify_on: balance\n"))
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("jas", "110.00"))
    assert (await level(service, anna), await qualifying(service, anna)) == ("zilver", 1100)
    await spend(db, clock, anna, 600)
    assert (await level(service, anna), await qualifying(service, anna)) == ("zilver", 500)
    clock.set(NEW_YEAR_2027)
    assert await recalculate(db, clock) == 1
    assert await level(service, anna) == "brons"


async def test_a_lifetime_window_counts_every_year_and_never_downgrades(
    db: Database, clock: FixedClock
) -> None:
    service = PointsService(db, clock)
    clock.set(local(2024, 2, 29, 12))
    await install(db, clock, tiers_programme("  window: lifetime\n"))
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("jas", "60.00"))
    clock.set(local(2027, 3, 1, 12))
    await buy(service, anna, "p2", line("jas", "50.00"))
    assert (await level(service, anna), await qualifying(service, anna)) == ("zilver", 1100)
    clock.set(local(2030, 1, 1))
    assert await recalculate(db, clock) == 0
    assert await level(service, anna) == "zilver"


@pytest.mark.parametrize("counted_from", ["tier_start", "joined"])
async def test_validity_per_member(db: Database, clock: FixedClock, counted_from: str) -> None:
    service = PointsService(db, clock)
    clock.set(local(2026, 3, 1, 9))  # joined on 1 March
    validity = f"  window: rolling\n  validity: {{days: 30, counted_from: {counted_from}}}\n"
    await install(db, clock, tiers_programme(validity))
    anna = await member(db, clock)
    clock.set(local(2026, 3, 20, 12))  # zilver from 20 March
    await buy(service, anna, "p1", line("jas", "110.00"))
    await give_back(service, "p1", "r1", amount="110.00")
    # From the tier's start: through 19 April. From joining: through 31 March, then 30 April.
    ends = local(2026, 4, 20) if counted_from == "tier_start" else local(2026, 4, 1)
    async with db.unit_of_work(write=False) as uow:
        from loyalty.programme import store

        file = await store.current_file(uow.session)
        found = await tiers.status(uow.session, anna, file, clock.now())
    assert found is not None and found.period_ends_at == ends
    clock.set(ends - timedelta(seconds=1))
    assert await recalculate(db, clock) == 0
    clock.set(ends)
    assert await recalculate(db, clock) == 1
    assert await level(service, anna) == "brons"
    assert await recalculate(db, clock) == 0


async def test_downgrade_grace_days(db: Database, clock: FixedClock) -> None:
    service = PointsService(db, clock)
    clock.set(local(2025, 6, 10, 12))
    await install(db, clock, tiers_programme("  downgrade_grace_days: 30\n"))
    anna, bob = await member(db, clock), await member(db, clock, "bob")
    for who in (anna, bob):
        await buy(service, who, f"p-{who}", line("jas", "110.00"))
    # 2025 keeps them zilver through 2026; 2026, with nothing bought, would not.
    clock.set(local(2026, 1, 1))
    assert await recalculate(db, clock) == 2
    clock.set(NEW_YEAR_2027)
    assert await recalculate(db, clock) == 2
    # Both keep zilver through the grace; Bob qualifies again in it.
    assert await level(service, anna) == await level(service, bob) == "zilver"
    clock.set(local(2027, 1, 15, 12))
    await buy(service, bob, "b2", line("jas", "100.00"))
    clock.set(local(2027, 1, 31) - timedelta(seconds=1))
    assert await recalculate(db, clock) == 0
    clock.set(local(2027, 1, 31))
    assert await recalculate(db, clock) == 1
    assert (await level(service, anna), await level(service, bob)) == ("brons", "zilver")


async def test_points_are_reset_at_the_recalculation(db: Database, clock: FixedClock) -> None:
    service = PointsService(db, clock)
    clock.set(local(2026, 12, 20, 12))
    text = tiers_programme("  reset_points: true\n", "  pending_days: 14\n")
    await install(db, clock, text)
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("jas", "50.00"))
    clock.set(local(2026, 12, 30, 12))
    await buy(service, anna, "p2", line("jas", "20.00"))  # still pending at New Year
    # The recalculation runs late: a purchase of New Year's morning is this year's.
    clock.set(local(2027, 1, 1, 9))
    await buy(service, anna, "p3", line("jas", "10.00"))
    assert await recalculate(db, clock) == 1
    current = await points_of(db, clock, anna)
    assert (current.available, current.pending) == (0, 100)
    async with db.unit_of_work(write=False) as uow:
        last = await uow.session.scalar(
            select(LedgerEntry).where(LedgerEntry.member_id == anna).order_by(LedgerEntry.id.desc())
        )
    assert last is not None and (last.kind, last.points, last.source_type) == (
        "expire",
        -700,
        "reset",
    )
    assert await recalculate(db, clock) == 0


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (programme("  expiry: {method: after_months, months: 0}\n"), "points.expiry.months"),
        (programme("  pending_until_event: Order Fulfilled\n"), "points.pending_until_event"),
        (
            tiers_programme("  window: calendar_year\n  validity: {days: 30}\n"),
            "tiers.validity",
        ),
        (tiers_programme("  window: rolling\n  reset_points: true\n"), "tiers.reset_points"),
        (programme("  expiry: {method: end_of_week}\n"), "points.expiry.method"),
    ],
)
def test_settings_are_checked_with_their_position(text: str, where: str) -> None:
    with pytest.raises(ProgrammeFileError) as caught:
        parse_programme(text, "winkel.yaml")
    message = str(caught.value)
    assert f": {where}:" in message, message
    assert message.startswith("winkel.yaml:"), message
