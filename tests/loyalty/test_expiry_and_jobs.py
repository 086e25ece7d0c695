"""Expiry and pending periods in programme time (Europe/Amsterdam, across DST changes), the
order spends take lots in, and the scheduled jobs: release, expire, warn, tiers, run_jobs."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from loyalty import jobs
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.core.models import OutboxEvent
from loyalty.points import ledger
from loyalty.points.models import LedgerEntry, LotAllocation, PointAccount, PointLot
from loyalty.points.service import (
    MemberRef,
    PointsService,
    PurchaseInput,
    PurchaseLine,
    ReturnInput,
)
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database
from loyalty.tiers.models import MemberTier
from tests.loyalty.services import add_member

AMS = ZoneInfo("Europe/Amsterdam")
SECOND = timedelta(seconds=1)

HEADER = """\
programme:
  key: klok
  name: Klok
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
"""

TIERS = """\
tiers:
  qualify_on: points
  window: rolling
  rolling_days: 365
  levels:
    - {key: blue, name: Blue, threshold: 0}
    - {key: gold, name: Gold, threshold: 100}
"""

_ids = itertools.count()


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An Amsterdam wall-clock time, as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


def points_section(
    expiry: str = "{method: never}", pending_days: int = 0, warn_days_before: int = 30
) -> str:
    expiry = expiry.rstrip("}") + f", warn_days_before: {warn_days_before}}}"
    return f"points:\n  pending_days: {pending_days}\n  expiry: {expiry}\n"


async def install(db: Database, *sections: str) -> None:
    # Installed at the real time: the parsed-file cache is keyed by (programme id, updated_at),
    # so two tests installing different files at the same fixed instant would share an entry.
    async with db.unit_of_work() as uow:
        await install_programme(
            uow.session, parse_programme(HEADER + "".join(sections)), datetime.now(UTC)
        )
        await uow.commit()


async def member(db: Database, clock: FixedClock, name: str = "anna") -> int:
    return (await add_member(db, clock, f"{name}-{next(_ids)}@example.com")).id


async def buy(db: Database, clock: FixedClock, member_id: int, euros: str = "100.00") -> str:
    """A purchase now that earns one point per euro; returns its externalId."""
    external_id = f"buy-{next(_ids)}"
    await PointsService(db, clock).record_purchase(
        PurchaseInput(
            MemberRef(member_id=member_id),
            external_id,
            [PurchaseLine("latte", Decimal(1), Decimal(euros))],
        )
    )
    return external_id


async def spend(db: Database, member_id: int, points: int, now: datetime) -> None:
    async with db.unit_of_work() as uow:
        account = await ledger.lock_account(uow.session, member_id, now)
        await ledger.spend(uow.session, account, points, now=now, meta=ledger.EntryMeta("Spent"))
        await uow.commit()


async def credit(
    db: Database,
    member_id: int,
    points: int,
    *,
    now: datetime,
    occurred_at: datetime,
    expires_at: datetime | None,
) -> int:
    """A lot straight through the ledger, available at once; returns the lot id."""
    async with db.unit_of_work() as uow:
        account = await ledger.lock_account(uow.session, member_id, now)
        entry = await ledger.credit(
            uow.session,
            account,
            "earn",
            points,
            occurred_at=occurred_at,
            now=now,
            available_at=occurred_at,
            expires_at=expires_at,
            meta=ledger.EntryMeta("Earned"),
        )
        lot_id = await uow.session.scalar(select(PointLot.id).where(PointLot.entry_id == entry.id))
        await uow.commit()
    assert lot_id is not None
    return lot_id


async def balance(db: Database, member_id: int, at: datetime) -> ledger.Balance:
    async with db.unit_of_work(write=False) as uow:
        return await ledger.balance(uow.session, member_id, at)


async def lots(db: Database, member_id: int) -> list[PointLot]:
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(
                select(PointLot).where(PointLot.member_id == member_id).order_by(PointLot.id)
            )
        )


async def remaining(db: Database, *lot_ids: int) -> list[int]:
    async with db.unit_of_work(write=False) as uow:
        found = {
            lot.id: lot.remaining
            for lot in await uow.session.scalars(select(PointLot).where(PointLot.id.in_(lot_ids)))
        }
    return [found[lot_id] for lot_id in lot_ids]


async def entries(db: Database, member_id: int) -> list[LedgerEntry]:
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.member_id == member_id)
                .order_by(LedgerEntry.id)
            )
        )


async def allocations(db: Database, entry_id: int) -> list[tuple[int, int]]:
    async with db.unit_of_work(write=False) as uow:
        return [
            (a.lot_id, a.points)
            for a in await uow.session.scalars(
                select(LotAllocation)
                .where(LotAllocation.entry_id == entry_id)
                .order_by(LotAllocation.id)
            )
        ]


async def account(db: Database, member_id: int) -> PointAccount:
    async with db.unit_of_work(write=False) as uow:
        found = await uow.session.get(PointAccount, member_id)
    assert found is not None
    return found


async def outbox_after(db: Database, after_id: int, topic: str | None = None) -> list[OutboxEvent]:
    async with db.unit_of_work(write=False) as uow:
        query = select(OutboxEvent).where(OutboxEvent.id > after_id)
        if topic is not None:
            query = query.where(OutboxEvent.topic == topic)
        return list(await uow.session.scalars(query.order_by(OutboxEvent.id)))


async def last_outbox_id(db: Database) -> int:
    async with db.unit_of_work(write=False) as uow:
        return int(await uow.session.scalar(select(func.max(OutboxEvent.id))) or 0)


# --- expiry -----------------------------------------------------------------------------------


async def test_after_days_expire_at_the_end_of_the_nth_local_day(
    db: Database, clock: FixedClock
) -> None:
    await install(db, points_section("{method: after_days, days: 2}"))
    clock.set(local(2026, 6, 10, 15, 0))
    anna = await member(db, clock)
    await buy(db, clock, anna)
    # Gone at the end of 12 June in Amsterdam (CEST): 22:00 UTC.
    boundary = local(2026, 6, 13)
    assert boundary == datetime(2026, 6, 12, 22, 0, tzinfo=UTC)
    [lot] = await lots(db, anna)
    assert lot.expires_at == boundary

    await spend(db, anna, 30, local(2026, 6, 12, 20))
    just_before = await balance(db, anna, boundary - SECOND)
    assert (just_before.available, just_before.expiring_points) == (70, 70)
    assert just_before.expiring_at == boundary
    at_boundary = await balance(db, anna, boundary)
    assert (at_boundary.available, at_boundary.pending, at_boundary.expiring_at) == (0, 0, None)

    # A second early the job has nothing to do.
    assert await jobs.expire_points(db, boundary - SECOND) == 0
    assert [e.kind for e in await entries(db, anna)] == ["earn", "spend"]

    seen = await last_outbox_id(db)
    assert await jobs.expire_points(db, boundary) == 1
    _, spent, expired = await entries(db, anna)
    # Only what remained of the partly spent lot expires, dated at the boundary.
    assert (expired.kind, expired.points, expired.occurred_at) == ("expire", -70, boundary)
    assert await allocations(db, expired.id) == [(lot.id, 70)]
    assert await allocations(db, spent.id) == [(lot.id, 30)]
    assert await remaining(db, lot.id) == [0]
    row = await account(db, anna)
    assert (row.balance, row.lifetime_earned, row.lifetime_spent, row.lifetime_expired) == (
        0,
        100,
        30,
        70,
    )
    [event] = await outbox_after(db, seen)
    assert event.topic == "balance.changed"
    assert event.member_id == anna
    assert (event.payload["kind"], event.payload["points"], event.payload["available"]) == (
        "expire",
        -70,
        0,
    )
    assert (await balance(db, anna, boundary)).available == 0

    # Running it again, at the same instant or later, changes nothing.
    seen = await last_outbox_id(db)
    assert await jobs.expire_points(db, boundary) == 0
    assert await jobs.expire_points(db, boundary + timedelta(days=40)) == 0
    assert len(await entries(db, anna)) == 3
    assert await outbox_after(db, seen) == []
    assert (await account(db, anna)).lifetime_expired == 70


@pytest.mark.parametrize(
    ("expiry", "earned_at", "expires_at"),
    [
        # Earned the day before the spring DST change: gone at midnight CEST (UTC+2).
        pytest.param(
            "{method: after_days, days: 1}",
            local(2026, 3, 28, 12),
            datetime(2026, 3, 29, 22),
            id="days-spring-dst",
        ),
        pytest.param(
            "{method: after_days, days: 1}",
            local(2026, 3, 28, 23, 59),
            datetime(2026, 3, 29, 22),
            id="days-spring-dst-late",
        ),
        # Earned the day before the autumn change: gone at midnight CET (UTC+1).
        pytest.param(
            "{method: after_days, days: 1}",
            local(2026, 10, 24, 12),
            datetime(2026, 10, 25, 23),
            id="days-autumn-dst",
        ),
        # 30 minutes before the end of March in Amsterdam (21:30 UTC).
        pytest.param(
            "{method: end_of_month, months: 0}",
            local(2026, 3, 31, 23, 30),
            datetime(2026, 3, 31, 22),
            id="month-last-half-hour",
        ),
        # Still 31 March in UTC, but already April in Amsterdam.
        pytest.param(
            "{method: end_of_month, months: 0}",
            local(2026, 4, 1, 0, 30),
            datetime(2026, 4, 30, 22),
            id="month-local-date",
        ),
        pytest.param(
            "{method: end_of_month, months: 1}",
            local(2026, 1, 15, 9),
            datetime(2026, 2, 28, 23),
            id="month-plus-one",
        ),
        pytest.param(
            "{method: end_of_month, months: 0}",
            local(2026, 10, 10, 9),
            datetime(2026, 10, 31, 23),
            id="month-autumn-dst",
        ),
        pytest.param(
            "{method: end_of_month, months: 2}",
            local(2026, 11, 20, 9),
            datetime(2027, 1, 31, 23),
            id="month-over-new-year",
        ),
        # 30 minutes before the new year in Amsterdam (22:30 UTC).
        pytest.param(
            "{method: end_of_year, years: 0}",
            local(2026, 12, 31, 23, 30),
            datetime(2026, 12, 31, 23),
            id="year-last-half-hour",
        ),
        # Still 2026 in UTC, but already 2027 in Amsterdam.
        pytest.param(
            "{method: end_of_year, years: 0}",
            local(2027, 1, 1, 0, 30),
            datetime(2027, 12, 31, 23),
            id="year-local-date",
        ),
        pytest.param(
            "{method: end_of_year, years: 1}",
            local(2026, 6, 1, 12),
            datetime(2027, 12, 31, 23),
            id="year-plus-one",
        ),
    ],
)
async def test_expiry_instants_in_programme_time(
    db: Database, clock: FixedClock, expiry: str, earned_at: datetime, expires_at: datetime
) -> None:
    expires_at = expires_at.replace(tzinfo=UTC)
    await install(db, points_section(expiry))
    clock.set(earned_at)
    anna = await member(db, clock)
    await buy(db, clock, anna)
    [lot] = await lots(db, anna)
    assert lot.expires_at == expires_at
    # Always a local midnight.
    assert expires_at.astimezone(AMS).time().isoformat() == "00:00:00"
    assert (await balance(db, anna, expires_at - SECOND)).available == 100
    assert (await balance(db, anna, expires_at)).available == 0
    assert await jobs.expire_points(db, expires_at - SECOND) == 0
    assert await jobs.expire_points(db, expires_at) == 1
    assert (await account(db, anna)).lifetime_expired == 100


async def test_points_that_never_expire(db: Database, clock: FixedClock) -> None:
    await install(db, points_section("{method: never}"))
    clock.set(local(2026, 6, 1, 12))
    anna = await member(db, clock)
    await buy(db, clock, anna)
    [lot] = await lots(db, anna)
    assert lot.expires_at is None
    far = local(2076, 6, 1)
    assert (await balance(db, anna, far)).available == 100
    assert (await balance(db, anna, far)).expiring_at is None
    assert await jobs.expire_points(db, far) == 0
    assert await jobs.warn_expiring(db, far) == 0
    assert [e.kind for e in await entries(db, anna)] == ["earn"]


async def test_points_that_expire_while_pending_are_neither_pending_nor_available(
    db: Database, clock: FixedClock
) -> None:
    # Earned on 25 June, pending until 9 July, but gone at the end of June.
    await install(db, points_section("{method: end_of_month, months: 0}", pending_days=14))
    clock.set(local(2026, 6, 25, 12))
    anna = await member(db, clock)
    await buy(db, clock, anna)
    [lot] = await lots(db, anna)
    assert (lot.available_at, lot.expires_at) == (local(2026, 7, 9, 12), local(2026, 7, 1))
    before = await balance(db, anna, local(2026, 6, 30, 23, 59))
    assert (before.available, before.pending) == (0, 100)
    # Exact to the second whether or not the expiry job has run.
    after = await balance(db, anna, local(2026, 7, 1))
    assert (after.available, after.pending) == (0, 0)
    assert await jobs.expire_points(db, local(2026, 7, 2)) == 1
    assert await balance(db, anna, local(2026, 7, 2)) == after
    assert await balance(db, anna, local(2026, 7, 10)) == after


# --- pending ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earned_at", "available_at"),
    [
        # Across the spring change: the same wall-clock time is 13 days 23 hours later.
        pytest.param(
            local(2026, 3, 20, 10), datetime(2026, 4, 3, 8, 0, tzinfo=UTC), id="spring-dst"
        ),
        # Across the autumn change: 14 days 1 hour later.
        pytest.param(
            local(2026, 10, 20, 10), datetime(2026, 11, 3, 9, 0, tzinfo=UTC), id="autumn-dst"
        ),
        pytest.param(local(2026, 6, 1, 10), datetime(2026, 6, 15, 8, 0, tzinfo=UTC), id="summer"),
    ],
)
async def test_pending_until_the_same_local_time_days_later(
    db: Database, clock: FixedClock, earned_at: datetime, available_at: datetime
) -> None:
    await install(db, points_section(pending_days=14))
    clock.set(earned_at)
    anna = await member(db, clock)
    await buy(db, clock, anna)
    [lot] = await lots(db, anna)
    assert lot.available_at == available_at
    assert lot.released_at is None
    assert available_at.astimezone(AMS).time() == earned_at.astimezone(AMS).time()

    waiting = await balance(db, anna, available_at - SECOND)
    assert (waiting.available, waiting.pending) == (0, 100)
    with pytest.raises(DomainError) as caught:
        await spend(db, anna, 1, available_at - SECOND)
    assert caught.value.code == "INSUFFICIENT_POINTS"
    clock.set(available_at - SECOND)
    with pytest.raises(DomainError) as caught:
        await PointsService(db, clock).adjust(MemberRef(member_id=anna), -1, "no", actor="t")
    assert caught.value.code == "INSUFFICIENT_POINTS"

    ready = await balance(db, anna, available_at)
    assert (ready.available, ready.pending) == (100, 0)
    await spend(db, anna, 100, available_at)
    assert (await balance(db, anna, available_at)).available == 0


async def test_release_pending_tells_each_member_once(db: Database, clock: FixedClock) -> None:
    await install(db, points_section(pending_days=14))
    earned = local(2026, 10, 20, 10)  # released after the autumn DST change
    clock.set(earned)
    anna = await member(db, clock, "anna")
    await buy(db, clock, anna, "100.00")
    clock.set(earned + timedelta(hours=1))
    bert = await member(db, clock, "bert")
    await buy(db, clock, bert, "40.00")
    carl = await member(db, clock, "carl")
    # Available at once, so released at once: nothing to tell later.
    await PointsService(db, clock).adjust(MemberRef(member_id=carl), 50, "welcome", actor="t")
    [carl_lot] = await lots(db, carl)
    assert carl_lot.released_at == clock.now()

    anna_ready = local(2026, 11, 3, 10)
    assert anna_ready == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    seen = await last_outbox_id(db)
    assert await jobs.release_pending(db, anna_ready - SECOND) == 0
    assert await outbox_after(db, seen) == []

    assert await jobs.release_pending(db, anna_ready) == 1
    [event] = await outbox_after(db, seen)
    assert (event.topic, event.member_id) == ("balance.changed", anna)
    assert event.payload["available"] == 100
    assert event.payload["pending"] == 0
    assert (event.payload["kind"], event.payload["points"]) == ("earn", 100)
    [anna_lot] = await lots(db, anna)
    [bert_lot] = await lots(db, bert)
    assert anna_lot.released_at == anna_ready
    assert bert_lot.released_at is None

    seen = await last_outbox_id(db)
    assert await jobs.release_pending(db, anna_ready + timedelta(hours=1)) == 1
    [event] = await outbox_after(db, seen)
    assert (event.topic, event.member_id, event.payload["available"]) == (
        "balance.changed",
        bert,
        40,
    )

    # Later runs find nothing: no events, release times unchanged.
    seen = await last_outbox_id(db)
    assert await jobs.release_pending(db, anna_ready + timedelta(hours=1)) == 0
    assert await jobs.release_pending(db, anna_ready + timedelta(days=3)) == 0
    assert await outbox_after(db, seen) == []
    assert [lot.released_at for lot in await lots(db, anna)] == [anna_ready]
    assert [lot.released_at for lot in await lots(db, bert)] == [anna_ready + timedelta(hours=1)]


async def test_release_tells_nothing_about_points_returned_or_expired_while_pending(
    db: Database, clock: FixedClock
) -> None:
    await install(db, points_section("{method: end_of_month, months: 0}", pending_days=14))
    clock.set(local(2026, 6, 1, 12))
    anna, bert = await member(db, clock, "anna"), await member(db, clock, "bert")
    bought = await buy(db, clock, anna)
    await PointsService(db, clock).record_return(
        ReturnInput(bought, "all-back", amount=Decimal("100.00"))
    )
    assert (await balance(db, anna, clock.now())).pending == 0
    # Bert's points expire at the end of June, before their pending period ends.
    clock.set(local(2026, 6, 25, 12))
    await buy(db, clock, bert)

    seen = await last_outbox_id(db)
    assert await jobs.release_pending(db, local(2026, 6, 15, 12)) == 1
    assert await jobs.release_pending(db, local(2026, 7, 9, 12)) == 1
    assert await outbox_after(db, seen) == []
    assert [lot.released_at for lot in await lots(db, anna)] == [local(2026, 6, 15, 12)]
    assert [lot.released_at for lot in await lots(db, bert)] == [local(2026, 7, 9, 12)]
    assert await jobs.release_pending(db, local(2026, 7, 10)) == 0


# --- the order spends take lots in ----------------------------------------------------------------


async def test_spends_take_soonest_expiring_lots_first(db: Database, clock: FixedClock) -> None:
    await install(db, points_section())
    now = local(2026, 6, 10, 12)
    clock.set(now)
    anna = await member(db, clock)
    day = timedelta(days=1)
    later = await credit(db, anna, 100, now=now, occurred_at=now - day, expires_at=now + 10 * day)
    soon = await credit(db, anna, 50, now=now, occurred_at=now - day, expires_at=now + 5 * day)
    never = await credit(db, anna, 100, now=now, occurred_at=now - 5 * day, expires_at=None)
    # Same expiry as `soon` but earned earlier (and written later): taken before it.
    soon_older = await credit(
        db, anna, 30, now=now, occurred_at=now - 3 * day, expires_at=now + 5 * day
    )
    never_newer = await credit(db, anna, 40, now=now, occurred_at=now - day, expires_at=None)
    order = (later, soon, never, soon_older, never_newer)

    await spend(db, anna, 60, now)
    assert await remaining(db, *order) == [100, 20, 100, 0, 40]
    await spend(db, anna, 100, now)
    assert await remaining(db, *order) == [20, 0, 100, 0, 40]
    await spend(db, anna, 50, now)
    assert await remaining(db, *order) == [0, 0, 70, 0, 40]
    await spend(db, anna, 90, now)
    assert await remaining(db, *order) == [0, 0, 0, 0, 20]

    spends = [e for e in await entries(db, anna) if e.kind == "spend"]
    assert [await allocations(db, e.id) for e in spends] == [
        [(soon_older, 30), (soon, 30)],
        [(soon, 20), (later, 80)],
        [(later, 20), (never, 30)],
        [(never, 70), (never_newer, 20)],
    ]
    with pytest.raises(DomainError) as caught:
        await spend(db, anna, 21, now)
    assert caught.value.code == "INSUFFICIENT_POINTS"
    assert await remaining(db, *order) == [0, 0, 0, 0, 20]


# --- warnings -----------------------------------------------------------------------------------


async def test_warn_expiring_once_per_member_and_instant(db: Database, clock: FixedClock) -> None:
    await install(db, points_section("{method: after_days, days: 10}", warn_days_before=3))
    now = local(2026, 6, 1, 12)
    clock.set(now)
    first, second = local(2026, 6, 12), local(2026, 6, 14)
    anna, bert, carl = [await member(db, clock, name) for name in ("anna", "bert", "carl")]
    # Anna: two lots expiring at the same instant, one of them partly spent, and a later one.
    await credit(db, anna, 100, now=now, occurred_at=now, expires_at=first)
    await credit(db, anna, 50, now=now, occurred_at=now, expires_at=first)
    await credit(db, anna, 70, now=now, occurred_at=now, expires_at=second)
    await spend(db, anna, 80, now)  # 80 of the first lot: 20 + 50 left at `first`
    # Bert: a lot fully spent, and one that expired (the expiry job has not run).
    await credit(db, bert, 40, now=now, occurred_at=now, expires_at=first)
    await spend(db, bert, 40, now)
    await credit(db, bert, 25, now=now, occurred_at=now, expires_at=now + timedelta(hours=1))
    # Carl: one lot at `first`, and points that never expire.
    await credit(db, carl, 60, now=now, occurred_at=now, expires_at=first)
    await credit(db, carl, 10, now=now, occurred_at=now, expires_at=None)

    warn_at = first - timedelta(days=3)
    seen = await last_outbox_id(db)
    assert await jobs.warn_expiring(db, warn_at - SECOND) == 0
    assert await jobs.warn_expiring(db, warn_at) == 2
    events = await outbox_after(db, seen)
    assert {
        (e.topic, e.member_id, e.payload["points"], e.payload["expires_at"]) for e in events
    } == {
        ("points.expiring", anna, 70, first.isoformat()),
        ("points.expiring", carl, 60, first.isoformat()),
    }
    assert len(events) == 2

    # Not again, at the same instant or a little later.
    seen = await last_outbox_id(db)
    assert await jobs.warn_expiring(db, warn_at) == 0
    assert await jobs.warn_expiring(db, warn_at + timedelta(hours=1)) == 0
    assert await outbox_after(db, seen) == []

    # Anna's later lot gets its own warning when its time comes.
    assert await jobs.warn_expiring(db, second - timedelta(days=3)) == 1
    [event] = await outbox_after(db, seen)
    assert (event.topic, event.member_id, event.payload) == (
        "points.expiring",
        anna,
        {"points": 70, "expires_at": second.isoformat()},
    )
    seen = await last_outbox_id(db)
    assert await jobs.warn_expiring(db, second - timedelta(days=3)) == 0
    assert await jobs.warn_expiring(db, second - SECOND) == 0
    assert await outbox_after(db, seen) == []


async def test_no_warnings_when_warn_days_before_is_zero(db: Database, clock: FixedClock) -> None:
    await install(db, points_section("{method: after_days, days: 1}", warn_days_before=0))
    clock.set(local(2026, 6, 1, 12))
    anna = await member(db, clock)
    await buy(db, clock, anna)
    assert await jobs.warn_expiring(db, local(2026, 6, 2, 23)) == 0
    assert await outbox_after(db, 0, "points.expiring") == []


# --- tiers and run_jobs -------------------------------------------------------------------------


async def tier_rows(db: Database) -> dict[int, str]:
    async with db.unit_of_work(write=False) as uow:
        return {row.member_id: row.tier for row in await uow.session.scalars(select(MemberTier))}


async def test_recalculate_tiers_is_idempotent(db: Database, clock: FixedClock) -> None:
    await install(db, points_section(), TIERS)
    clock.set(local(2026, 6, 1, 12))
    anna, bert = await member(db, clock, "anna"), await member(db, clock, "bert")
    await buy(db, clock, anna, "150.00")
    await buy(db, clock, bert, "10.00")
    assert await tier_rows(db) == {anna: "gold", bert: "blue"}
    # Nothing is due the same day the tiers were set.
    assert await jobs.recalculate_tiers(db, clock.now()) == 0
    next_day = local(2026, 6, 2, 3)
    assert await jobs.recalculate_tiers(db, next_day) == 2
    assert await jobs.recalculate_tiers(db, next_day) == 0
    assert await jobs.recalculate_tiers(db, next_day + timedelta(hours=12)) == 0
    assert await tier_rows(db) == {anna: "gold", bert: "blue"}


async def test_run_jobs_returns_counts_and_is_idempotent(db: Database, clock: FixedClock) -> None:
    await install(
        db,
        points_section("{method: after_days, days: 3}", pending_days=1, warn_days_before=5),
        TIERS,
    )
    clock.set(local(2026, 6, 1, 12))
    anna, bert = await member(db, clock, "anna"), await member(db, clock, "bert")
    await buy(db, clock, anna, "100.00")
    await buy(db, clock, bert, "50.00")
    expires = local(2026, 6, 5)

    # The next day: both released, both warned (expiry within 5 days), both tiers due, both
    # members' segments rebuilt (the first run of the day).
    clock.set(local(2026, 6, 2, 13))
    assert await jobs.run_jobs(db, clock) == {
        "release": 2,
        "expire": 0,
        "warn": 2,
        "tiers": 2,
        "offers": 0,
        "segments": 2,
        "prune": 0,
        "surveys": 0,
        "erasures": 0,
        "referrals": 0,
        "campaigns": 0,
    }
    assert await jobs.run_jobs(db, clock) == {
        "release": 0,
        "expire": 0,
        "warn": 0,
        "tiers": 0,
        "offers": 0,
        "segments": 0,
        "prune": 0,
        "surveys": 0,
        "erasures": 0,
        "referrals": 0,
        "campaigns": 0,
    }
    assert await jobs.run_jobs(db, clock, only=["warn"]) == {"warn": 0}

    await spend(db, anna, 30, clock.now())
    clock.set(expires)
    assert await jobs.run_jobs(db, clock, only=["expire"]) == {"expire": 2}
    assert await jobs.run_jobs(db, clock) == {
        "release": 0,
        "expire": 0,
        "warn": 0,
        "tiers": 2,
        "offers": 0,
        "segments": 2,  # a day after the last rebuild
        "prune": 0,
        "surveys": 0,
        "erasures": 0,
        "referrals": 0,
        "campaigns": 0,
    }
    assert await jobs.run_jobs(db, clock) == {
        "release": 0,
        "expire": 0,
        "warn": 0,
        "tiers": 0,
        "offers": 0,
        "segments": 0,
        "prune": 0,
        "surveys": 0,
        "erasures": 0,
        "referrals": 0,
        "campaigns": 0,
    }
    assert [(e.kind, e.points) for e in await entries(db, anna)] == [
        ("earn", 100),
        ("spend", -30),
        ("expire", -70),
    ]
    assert [(e.kind, e.points) for e in await entries(db, bert)] == [
        ("earn", 50),
        ("expire", -50),
    ]
    assert (await balance(db, anna, expires)).available == 0
    assert await tier_rows(db) == {anna: "gold", bert: "blue"}


# --- several schedulers at once ----------------------------------------------------------------


async def test_jobs_running_concurrently_tell_each_member_once(
    db: Database, clock: FixedClock
) -> None:
    """run_scheduler may run in several processes: each job's events are written once."""
    await install(
        db,
        points_section("{method: after_days, days: 10}", pending_days=2, warn_days_before=5),
        TIERS,
    )
    clock.set(local(2026, 6, 1, 12))
    members = [await member(db, clock, f"m{i}") for i in range(4)]
    for member_id in members:
        await buy(db, clock, member_id, "150.00")  # gold at once
    # Open a connection per concurrent run first, so the runs really overlap.
    await asyncio.gather(*(jobs.release_pending(db, local(2026, 5, 1)) for _ in range(4)))

    async def together(job: Callable[[Database, datetime], Awaitable[int]], at: datetime) -> None:
        await asyncio.gather(*(job(db, at) for _ in range(4)))

    seen = await last_outbox_id(db)
    await together(jobs.release_pending, local(2026, 6, 3, 12))
    await together(jobs.warn_expiring, local(2026, 6, 8))
    await together(jobs.expire_points, local(2026, 6, 12))
    # More than a rolling year later nothing qualifies: everyone drops to blue, once.
    await together(jobs.recalculate_tiers, local(2027, 8, 1))
    told = Counter((e.topic, e.member_id) for e in await outbox_after(db, seen))
    for member_id in members:
        # Released, then expired; warned once; dropped a tier once.
        assert told.pop(("balance.changed", member_id)) == 2
        assert told.pop(("points.expiring", member_id)) == 1
        assert told.pop(("tier.changed", member_id)) == 1
    assert told == {}
    for member_id in members:
        assert [(e.kind, e.points) for e in await entries(db, member_id)] == [
            ("earn", 150),
            ("expire", -150),
        ]
    assert set((await tier_rows(db)).values()) == {"blue"}
