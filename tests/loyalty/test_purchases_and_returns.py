"""Purchases, returns, events and manual adjustments through `PointsService`, on SQLite and
PostgreSQL: member references and validation, awards written as ledger entries, idempotency
(also under concurrent retries), caps read back from the ledger, the till's preview, and the
return rule: claw back earned x returned / original, rounded, at most what the purchase
earned, never twice, pending points first, clamped at zero unless the programme allows debt."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.core.models import OutboxEvent
from loyalty.points import earning, ledger
from loyalty.points.models import (
    LedgerEntry,
    MemberEvent,
    PointAccount,
    PointLot,
    Purchase,
    PurchaseReturn,
)
from loyalty.points.service import (
    EventInput,
    MemberRef,
    PointsService,
    PurchaseInput,
    PurchaseLine,
    PurchaseResult,
    ReturnInput,
    ReturnLine,
    ReturnResult,
)
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database
from tests.loyalty.services import add_member, set_status

# A Wednesday, 13:00 in Amsterdam (UTC+1 in March before the DST change on the 29th).
WEDNESDAY = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
# Monday 16 March 2026, 00:00 in Amsterdam: the next programme week starts here.
NEXT_MONDAY = datetime(2026, 3, 15, 23, 0, tzinfo=UTC)

# Zilver is out of reach by earning here: members only get it from staff (set_tier_floor).
TIERS = """\
tiers:
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: zilver, name: Zilver, threshold: 1000000, earn_multiplier: "1.5"}
"""


# No rule rewards `sign_up` or `profile_completed`: creating a member earns those through the
# points area's reactions, and a new member here must start at zero so that the sums stay about
# purchases. The once-ever rule (welkom) rewards another moment, installing the app.
def programme(*, pending_days: int = 0, allow_debt: bool = False, tiers: str = "") -> str:
    return (
        f"""\
programme:
  key: winkel
  name: Winkel
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
points:
  pending_days: {pending_days}
  allow_negative_balance: {"true" if allow_debt else "false"}
earning:
  base:
    points_per_unit: 10
    rounding: down
    exclude_categories: [cadeaubon]
  rules:
    - key: grote-bestelling
      kind: bonus
      description: Bonus vanaf 25 euro
      points: 50
      min_order: "25.00"
      cap: {{per: week, points: 100}}
    - key: taart-dubbel
      kind: multiplier
      multiplier: 2
      categories: [taart]
    - key: welkom
      kind: event
      event: app_installed
      points: 100
      max_times: 1
    - key: verjaardag
      kind: event
      event: birthday
      points: 250
      max_times: 1
      max_times_per: year
    - key: review
      kind: event
      event: review_written
      points: 25
      cap: {{per: month, points: 75}}
  caps:
    - {{per: day, points: 2000}}
"""
        + tiers
    )


@pytest.fixture
def service(db: Database, clock: FixedClock) -> PointsService:
    clock.set(WEDNESDAY)
    return PointsService(db, clock)


async def install(db: Database, clock: FixedClock, text: str) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(text), clock.now())
        await uow.commit()


async def member(db: Database, clock: FixedClock, name: str = "anna") -> int:
    return (await add_member(db, clock, f"{name}@example.com")).id


def line(sku: str, price: str, quantity: str = "1", category: str | None = None) -> PurchaseLine:
    return PurchaseLine(sku, Decimal(quantity), Decimal(price), category)


def ref(member_id: int) -> MemberRef:
    return MemberRef(member_id=member_id)


async def buy(
    service: PointsService,
    member_id: int,
    external_id: str,
    *lines: PurchaseLine,
    **kwargs: Any,
) -> Purchase:
    result = await service.record_purchase(
        PurchaseInput(ref(member_id), external_id, lines, **kwargs), actor="till-1"
    )
    assert not result.replayed
    return result.purchase


async def give_back(
    service: PointsService,
    purchase: str,
    external_id: str,
    *lines: ReturnLine,
    amount: str | None = None,
) -> ReturnResult:
    return await service.record_return(
        ReturnInput(purchase, external_id, lines, Decimal(amount) if amount else None)
    )


def back(sku: str, quantity: str = "1") -> ReturnLine:
    return ReturnLine(sku, Decimal(quantity))


async def fails(code: str, call: Awaitable[object]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code, caught.value.message
    return caught.value


async def entries(db: Database, member_id: int) -> list[LedgerEntry]:
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.member_id == member_id)
                .order_by(LedgerEntry.id)
            )
        )


async def count(db: Database, model: type[Any]) -> int:
    async with db.unit_of_work(write=False) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def purchase_row(db: Database, external_id: str) -> Purchase:
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.scalar(select(Purchase).where(Purchase.external_id == external_id))
    assert row is not None
    return row


async def balance(service: PointsService, db: Database, member_id: int) -> ledger.Balance:
    """The member's balance, after checking the ledger's invariants."""
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        account = await s.get(PointAccount, member_id)
        total = await s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member_id
            )
        )
        remaining = await s.scalar(
            select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
                PointLot.member_id == member_id
            )
        )
        negative = await s.scalar(
            select(func.count())
            .select_from(PointLot)
            .where(PointLot.member_id == member_id, PointLot.remaining < 0)
        )
    assert total is not None and remaining is not None
    # A member's account row appears with their first change of points.
    if account is None:
        assert total == remaining == 0
    else:
        assert account.balance == total == remaining - account.debt
    assert negative == 0
    result = await service.balance(member_id)
    if not result.debt:
        assert result.available >= 0
    return result


async def spend(db: Database, clock: FixedClock, member_id: int, points: int) -> None:
    async with db.unit_of_work() as uow:
        account = await ledger.lock_account(uow.session, member_id, clock.now())
        await ledger.spend(
            uow.session, account, points, now=clock.now(), meta=ledger.EntryMeta("A reward")
        )
        await uow.commit()


# --- recording a purchase ---------------------------------------------------------------------


async def test_member_named_by_id_number_or_barcode(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await add_member(db, clock, "anna@example.com")
    refs = [
        MemberRef(member_id=anna.id),
        MemberRef(member_number=anna.member_number),
        MemberRef(barcode=anna.card_barcode),
    ]
    for i, by in enumerate(refs):
        result = await service.record_purchase(PurchaseInput(by, f"p{i}", [line("koffie", "3")]))
        assert result.purchase.member_id == anna.id and result.purchase.points_earned == 30
    assert (await balance(service, db, anna.id)).available == 90


async def test_member_reference_must_be_exactly_one_and_known(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await add_member(db, clock, "anna@example.com")
    lines = [line("koffie", "3")]
    for bad in (MemberRef(), MemberRef(member_id=anna.id, barcode=anna.card_barcode)):
        error = await fails(
            "INVALID_MEMBER_REFERENCE", service.record_purchase(PurchaseInput(bad, "p", lines))
        )
        assert error.field == "member"
    for unknown in (
        MemberRef(member_id=anna.id + 1000),
        MemberRef(member_number="1234567890"),
        MemberRef(barcode="TRWNOSUCHCARD"),
    ):
        await fails("NOT_FOUND", service.record_purchase(PurchaseInput(unknown, "p", lines)))
    assert await count(db, Purchase) == 0


async def test_blocked_member_cannot_earn(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    await set_status(db, anna, "blocked")
    await fails(
        "MEMBER_NOT_ACTIVE",
        service.record_purchase(PurchaseInput(ref(anna), "p1", [line("koffie", "3")])),
    )
    assert await count(db, Purchase) == 0
    assert await entries(db, anna) == []


async def test_bad_lines_report_every_problem(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    with pytest.raises(ValidationFailed) as empty:
        await service.record_purchase(PurchaseInput(ref(anna), "p1", []))
    assert [p.code for p in empty.value.problems] == ["EMPTY_PURCHASE"]
    with pytest.raises(ValidationFailed) as bad:
        await service.record_purchase(
            PurchaseInput(
                ref(anna),
                "p1",
                [
                    line("koffie", "-1.00"),
                    line("thee", "2.00", quantity="0"),
                    line("  ", "2.00"),
                    line("taart", "4.00"),
                ],
            )
        )
    problems = bad.value.problems
    assert [p.code for p in problems] == ["INVALID_LINE"] * 3
    assert {p.field for p in problems} == {"lines"}
    assert sorted(p.message for p in problems) == [
        "Every line needs a SKU",
        "Prices must not be negative",
        "Quantities must be positive",
    ]
    assert await count(db, Purchase) == 0


async def test_currency_must_be_the_programmes(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    error = await fails(
        "CURRENCY_MISMATCH",
        service.record_purchase(
            PurchaseInput(ref(anna), "p1", [line("koffie", "3")], currency="USD")
        ),
    )
    assert error.field == "currency"
    assert await count(db, Purchase) == 0
    ok = await buy(service, anna, "p2", line("koffie", "3"), currency="eur")
    assert ok.currency == "EUR"


async def test_occurred_at_in_the_future_is_refused(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    for when in (WEDNESDAY + timedelta(hours=1), datetime(2026, 3, 11, 12, 0)):
        error = await fails(
            "INVALID_DATE",
            service.record_purchase(
                PurchaseInput(ref(anna), "p1", [line("koffie", "3")], occurred_at=when)
            ),
        )
        assert error.field == "occurredAt"
    assert await count(db, Purchase) == 0
    # A till whose clock runs a few minutes ahead is tolerated; a sale from last week is fine.
    await buy(
        service, anna, "p2", line("koffie", "3"), occurred_at=WEDNESDAY + timedelta(minutes=5)
    )
    earlier = await buy(
        service, anna, "p3", line("koffie", "3"), occurred_at=WEDNESDAY - timedelta(days=7)
    )
    assert earlier.occurred_at == WEDNESDAY - timedelta(days=7)
    assert earlier.recorded_at == WEDNESDAY


async def test_awards_are_written_as_ledger_entries(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme(tiers=TIERS))
    anna = await member(db, clock)
    await service.set_tier_floor(ref(anna), "zilver", None)
    purchase = await buy(
        service,
        anna,
        "p1",
        line("appeltaart", "30.00", category="taart"),
        line("koffie", "2.50", quantity="2"),
        line("bon", "20.00", category="cadeaubon"),
        store="Utrecht",
    )
    # Eligible 35.00 -> base 350; taart x2 adds 300; the order bonus 50; zilver x1.5 adds 175.
    assert purchase.total == Decimal("55.00")
    assert purchase.eligible_total == Decimal("35.00")
    assert purchase.points_earned == 875 and purchase.points_pending == 0
    assert purchase.store == "Utrecht" and purchase.recorded_by == "till-1"
    rows = await entries(db, anna)
    assert [(e.kind, e.rule, e.points) for e in rows] == [
        ("earn", earning.BASE_RULE, 350),
        ("bonus", "grote-bestelling", 50),
        ("bonus", "taart-dubbel", 300),
        ("bonus", earning.TIER_RULE, 175),
    ]
    for e in rows:
        assert e.source_type == "purchase" and e.source_id == purchase.id
        assert e.actor == "till-1" and e.occurred_at == WEDNESDAY
        assert e.available_at == WEDNESDAY and e.expires_at is None
    assert rows[1].description == "Bonus vanaf 25 euro"
    current = await balance(service, db, anna)
    assert (current.available, current.pending, current.lifetime_earned) == (875, 0, 875)
    async with db.unit_of_work(write=False) as uow:
        events = list(
            await uow.session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == "balance.changed")
                .order_by(OutboxEvent.id)
            )
        )
    assert [e.payload["points"] for e in events] == [350, 50, 300, 175]
    assert {e.payload["available"] for e in events} == {875}


async def test_points_are_pending_through_the_return_window(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme(pending_days=14))
    anna = await member(db, clock)
    purchase = await buy(service, anna, "p1", line("koffie", "15.30"))
    assert purchase.points_earned == 153 and purchase.points_pending == 153
    assert [e.available_at for e in await entries(db, anna)] == [WEDNESDAY + timedelta(days=14)]
    current = await balance(service, db, anna)
    assert (current.available, current.pending, current.lifetime_earned) == (0, 153, 153)
    clock.set(WEDNESDAY + timedelta(days=14))
    current = await balance(service, db, anna)
    assert (current.available, current.pending) == (153, 0)
    # A sale recorded after its own return window has passed is spendable at once.
    late = await buy(
        service, anna, "p2", line("koffie", "1.00"), occurred_at=clock.now() - timedelta(days=15)
    )
    assert late.points_earned == 10 and late.points_pending == 0
    assert (await balance(service, db, anna)).available == 163


async def test_a_retry_returns_the_first_purchase_and_changes_nothing(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    bob = await member(db, clock, "bob")
    first = await buy(service, anna, "p1", line("koffie", "15.30"))
    before = len(await entries(db, anna))
    clock.advance(timedelta(minutes=1))
    # Even a retry with other lines gets the first result: the id decides.
    again = await service.record_purchase(
        PurchaseInput(ref(anna), " p1 ", [line("taart", "99.00")])
    )
    assert again.replayed and again.purchase.id == first.id
    assert again.purchase.points_earned == 153
    assert len(await entries(db, anna)) == before
    assert await count(db, Purchase) == 1
    error = await fails(
        "IDEMPOTENCY_CONFLICT",
        service.record_purchase(PurchaseInput(ref(bob), "p1", [line("koffie", "15.30")])),
    )
    assert error.field == "externalId"
    assert await entries(db, bob) == []
    assert (await balance(service, db, anna)).available == 153


async def test_concurrent_retries_earn_once(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    data = PurchaseInput(ref(anna), "till-7-0042", [line("koffie", "30.00")])
    results: list[PurchaseResult] = await asyncio.gather(
        *(service.record_purchase(data) for _ in range(20))
    )
    assert sorted(r.replayed for r in results) == [False] + [True] * 19
    assert {r.purchase.id for r in results} == {results[0].purchase.id}
    assert await count(db, Purchase) == 1
    assert [(e.kind, e.points) for e in await entries(db, anna)] == [("earn", 300), ("bonus", 50)]
    current = await balance(service, db, anna)
    assert (current.available, current.lifetime_earned) == (350, 350)


async def test_one_external_id_for_two_members_at_once(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna, bob = await member(db, clock), await member(db, clock, "bob")
    for i in range(5):
        outcomes = await asyncio.gather(
            *(
                service.record_purchase(PurchaseInput(ref(who), f"p{i}", [line("koffie", "1")]))
                for who in (anna, bob)
            ),
            return_exceptions=True,
        )
        won = [o for o in outcomes if isinstance(o, PurchaseResult)]
        lost = [o for o in outcomes if isinstance(o, DomainError)]
        assert len(won) == 1 and not won[0].replayed, outcomes
        assert [e.code for e in lost] == ["IDEMPOTENCY_CONFLICT"], outcomes
    assert await count(db, Purchase) == 5
    total = [(await balance(service, db, m)).available for m in (anna, bob)]
    assert sum(total) == 50


# --- caps -------------------------------------------------------------------------------------


async def test_day_cap_and_weekly_rule_cap_across_purchases(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)

    async def points(external_id: str, price: str) -> list[tuple[str | None, int]]:
        purchase = await buy(service, anna, external_id, line("koffie", price))
        async with db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.source_type == "purchase", LedgerEntry.source_id == purchase.id)
                .order_by(LedgerEntry.id)
            )
            found = [(e.rule, e.points) for e in rows]
        assert purchase.points_earned == sum(p for _, p in found)
        return found

    # Wednesday: 1250 of the 2000 a day, then the cap cuts the rule first, then the base.
    assert await points("w1", "120.00") == [("base", 1200), ("grote-bestelling", 50)]
    clock.advance(timedelta(hours=1))
    assert await points("w2", "100.00") == [("base", 750)]
    clock.advance(timedelta(hours=1))
    assert await points("w3", "30.00") == []
    # 23:59 Wednesday local (22:59 UTC) is still Wednesday...
    clock.set(datetime(2026, 3, 11, 22, 59, tzinfo=UTC))
    assert await points("w4", "30.00") == []
    # ...and 00:30 Thursday local is a new day although it is still Wednesday in UTC.
    clock.set(datetime(2026, 3, 11, 23, 30, tzinfo=UTC))
    # The order bonus was paid once this week (the cut one does not count): 50 of 100 left.
    assert await points("t1", "30.00") == [("base", 300), ("grote-bestelling", 50)]
    clock.advance(timedelta(hours=1))
    assert await points("t2", "30.00") == [("base", 300)]
    # Sunday 23:59 local is still this week; Monday 00:00 local starts the next one.
    clock.set(NEXT_MONDAY - timedelta(minutes=1))
    assert await points("s1", "30.00") == [("base", 300)]
    clock.set(NEXT_MONDAY)
    assert await points("m1", "30.00") == [("base", 300), ("grote-bestelling", 50)]
    # Points from staff are no purchase: they use up no cap.
    await service.adjust(ref(anna), 5000, "goodwill", actor="staff")
    assert await points("m2", "30.00") == [("base", 300), ("grote-bestelling", 50)]
    assert await points("m3", "30.00") == [("base", 300)]
    await balance(service, db, anna)


async def test_preview_matches_the_purchase_and_records_nothing(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme(tiers=TIERS))
    anna = await member(db, clock)
    await service.set_tier_floor(ref(anna), "zilver", None)
    # 1550 of the day cap (1000 + 50 + 500 for zilver) and 50 of the weekly bonus are used.
    await buy(service, anna, "p1", line("koffie", "100.00"))
    lines = [line("appeltaart", "30.00", category="taart"), line("koffie", "5.00")]
    counts = [await count(db, m) for m in (Purchase, LedgerEntry, PointLot, OutboxEvent)]
    preview = await service.preview_purchase(ref(anna), lines)
    assert [await count(db, m) for m in (Purchase, LedgerEntry, PointLot, OutboxEvent)] == counts
    assert sum(a.points for a in preview) == 2000 - 1550
    # Anonymous: no tier, no caps used.
    anonymous = await service.preview_purchase(None, lines)
    assert [(a.rule, a.points) for a in anonymous] == [
        ("base", 350),
        ("grote-bestelling", 50),
        ("taart-dubbel", 300),
    ]
    await buy(service, anna, "p2", *lines)
    real = await entries(db, anna)
    real = [e for e in real if e.source_id == (await purchase_row(db, "p2")).id]
    assert [(a.rule, a.points, a.description) for a in preview] == [
        (e.rule, e.points, e.description) for e in real
    ]


# --- returns ----------------------------------------------------------------------------------

# 153 points for 15.30 euro; 4.25 of it is the scone.
SCONE_BASKET = (line("koffiebonen", "11.05"), line("scone", "4.25"))


async def test_partial_return_by_lines_rounds_half_up(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    purchase = await buy(service, anna, "p1", *SCONE_BASKET)
    assert purchase.points_earned == 153
    clock.advance(timedelta(days=1))
    result = await give_back(service, "p1", "r1", back("scone"))
    # 153 x 4.25 / 15.30 = 42.5 -> 43
    assert (result.points_reversed, result.replayed) == (43, False)
    row = await purchase_row(db, "p1")
    assert row.points_reversed == 43
    assert row.returned_total == Decimal("4.25") and row.returned_eligible == Decimal("4.25")
    reversal = (await entries(db, anna))[-1]
    assert (reversal.kind, reversal.points, reversal.source_type, reversal.source_id) == (
        "reverse",
        -43,
        "purchase",
        purchase.id,
    )
    current = await balance(service, db, anna)
    assert (current.available, current.lifetime_earned) == (110, 110)


async def test_partial_return_by_amount(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    await buy(service, anna, "p1", *SCONE_BASKET)
    result = await give_back(service, "p1", "r1", amount="4.25")
    assert result.points_reversed == 43
    assert (await balance(service, db, anna)).available == 110
    async with db.unit_of_work(write=False) as uow:
        recorded = await uow.session.scalar(select(PurchaseReturn))
    assert recorded is not None
    assert (recorded.amount, recorded.eligible_amount, recorded.points_reversed) == (
        Decimal("4.25"),
        Decimal("4.25"),
        43,
    )


async def test_full_return_takes_back_everything_once(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    await buy(service, anna, "p1", *SCONE_BASKET, line("koffie", "20.00"))  # 353 + 50 bonus
    result = await give_back(
        service, "p1", "r1", back("koffiebonen"), back("scone"), back("koffie")
    )
    assert result.points_reversed == 403
    assert result.purchase.points_reversed == 403
    current = await balance(service, db, anna)
    assert (current.available, current.lifetime_earned) == (0, 0)
    # Nothing is left to return, so nothing can be reversed twice.
    await fails("RETURN_EXCEEDS_PURCHASE", give_back(service, "p1", "r2", back("scone")))
    await fails("RETURN_EXCEEDS_PURCHASE", give_back(service, "p1", "r3", amount="0.01"))
    assert len([e for e in await entries(db, anna) if e.kind == "reverse"]) == 1


async def test_partial_returns_never_reverse_more_than_earned(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("koffie", "15.30"))
    # Each half is 76.5 points: rounding each on its own would take 77 + 77 = 154.
    first = await give_back(service, "p1", "r1", amount="7.65")
    second = await give_back(service, "p1", "r2", amount="7.65")
    assert (first.points_reversed, second.points_reversed) == (77, 76)
    assert (await purchase_row(db, "p1")).points_reversed == 153
    assert (await balance(service, db, anna)).available == 0
    # By lines too: three thirds of 100 points.
    await buy(service, anna, "p2", line("thee", "1.00", quantity="3"), line("tas", "0.01"))
    reversed_ = [
        (await give_back(service, "p2", f"r2-{i}", back("thee"))).points_reversed for i in range(3)
    ]
    # 30 points for 3.01 euro: each thee is 9.97 points, so 10 + 10 + 10 come back.
    row = await purchase_row(db, "p2")
    assert row.points_earned == 30
    assert sum(reversed_) == row.points_reversed <= 30
    assert row.points_reversed == round(Decimal(30) * Decimal("3.00") / Decimal("3.01"))
    assert (await balance(service, db, anna)).available == 30 - sum(reversed_)


async def test_concurrent_returns_of_one_purchase(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    await buy(service, anna, "p1", line("koffie", "15.30"))
    # One return sent ten times at once: reversed once.
    same = await asyncio.gather(*(give_back(service, "p1", "r0", amount="1.53") for _ in range(10)))
    assert sorted(r.replayed for r in same) == [False] + [True] * 9
    assert {r.points_reversed for r in same} == {15}
    # Nine more tenths at once: together exactly what the purchase earned.
    rest = await asyncio.gather(
        *(give_back(service, "p1", f"r{i}", amount="1.53") for i in range(1, 10))
    )
    assert 15 + sum(r.points_reversed for r in rest) == 153
    row = await purchase_row(db, "p1")
    assert (row.points_reversed, row.returned_total) == (153, Decimal("15.30"))
    assert await count(db, PurchaseReturn) == 10
    assert (await balance(service, db, anna)).available == 0
    await fails("RETURN_EXCEEDS_PURCHASE", give_back(service, "p1", "r10", amount="0.01"))


async def test_the_same_return_twice_is_replayed(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    await buy(service, anna, "p1", *SCONE_BASKET)
    await buy(service, anna, "p2", line("koffie", "5.00"))
    first = await give_back(service, "p1", "r1", back("scone"))
    again = await give_back(service, "p1", "r1", back("scone"))
    assert (again.points_reversed, again.replayed) == (first.points_reversed, True)
    assert await count(db, PurchaseReturn) == 1
    assert len([e for e in await entries(db, anna) if e.kind == "reverse"]) == 1
    assert (await balance(service, db, anna)).available == 153 + 50 - 43
    error = await fails("IDEMPOTENCY_CONFLICT", give_back(service, "p2", "r1", back("koffie")))
    assert error.field == "externalId"
    assert (await purchase_row(db, "p2")).points_reversed == 0


async def test_returns_that_do_not_fit_the_purchase(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    await buy(service, anna, "p1", *SCONE_BASKET)
    await fails("RETURN_EXCEEDS_PURCHASE", give_back(service, "p1", "r", back("scone", "2")))
    await fails("RETURN_EXCEEDS_PURCHASE", give_back(service, "p1", "r", back("scone", "0")))
    await fails("RETURN_EXCEEDS_PURCHASE", give_back(service, "p1", "r", amount="15.31"))
    await fails("RETURN_EXCEEDS_PURCHASE", give_back(service, "p1", "r", amount="0"))
    await fails("RETURN_LINE_NOT_IN_PURCHASE", give_back(service, "p1", "r", back("taart")))
    error = await fails("PURCHASE_NOT_FOUND", give_back(service, "nope", "r", back("scone")))
    assert error.field == "purchaseExternalId"
    await fails("INVALID_RETURN", give_back(service, "p1", "r", back("scone"), amount="4.25"))
    await fails("INVALID_RETURN", give_back(service, "p1", "r"))
    assert await count(db, PurchaseReturn) == 0
    # The scone once is fine; the scone again is more than was bought.
    await give_back(service, "p1", "r1", back("scone"))
    await fails("RETURN_EXCEEDS_PURCHASE", give_back(service, "p1", "r2", back("scone")))
    row = await purchase_row(db, "p1")
    assert (row.points_reversed, row.returned_total) == (43, Decimal("4.25"))
    assert (await balance(service, db, anna)).available == 110


async def test_a_return_takes_the_pending_points_first(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme(pending_days=14))
    anna = await member(db, clock)
    await service.adjust(ref(anna), 500, "welcome gift", actor="staff")
    purchase = await buy(service, anna, "p1", *SCONE_BASKET)
    assert purchase.points_pending == 153
    clock.advance(timedelta(days=2))
    assert (await give_back(service, "p1", "r1", back("scone"))).points_reversed == 43
    current = await balance(service, db, anna)
    assert (current.available, current.pending) == (500, 110)
    assert (await give_back(service, "p1", "r2", back("koffiebonen"))).points_reversed == 110
    current = await balance(service, db, anna)
    assert (current.available, current.pending) == (500, 0)
    clock.advance(timedelta(days=30))
    assert (await balance(service, db, anna)).available == 500


async def test_a_return_after_spending_clamps_at_zero(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    await buy(service, anna, "p1", *SCONE_BASKET)
    await spend(db, clock, anna, 100)
    # 153 to take back, 53 left: 53 taken, the rest waived, and each reported as such.
    result = await give_back(service, "p1", "r1", back("koffiebonen"), back("scone"))
    assert (result.points_reversed, result.points_waived) == (53, 100)
    again = await service.record_return(
        ReturnInput("p1", "r1", [ReturnLine("koffiebonen", Decimal(1))])
    )
    assert (again.replayed, again.points_reversed, again.points_waived) == (True, 53, 100)
    assert (again.purchase.points_reversed, again.purchase.points_waived) == (153, 100)
    reversal = (await entries(db, anna))[-1]
    assert (reversal.kind, reversal.points) == ("reverse", -53)
    current = await balance(service, db, anna)
    assert (current.available, current.debt) == (0, 0)
    # With nothing left at all, a return writes no entry and the balance stays at zero.
    await buy(service, anna, "p2", *SCONE_BASKET)
    await spend(db, clock, anna, 153)
    before = len(await entries(db, anna))
    nothing = await give_back(service, "p2", "r2", back("scone"))
    assert (nothing.points_reversed, nothing.points_waived) == (0, 43)
    assert len(await entries(db, anna)) == before
    current = await balance(service, db, anna)
    assert (current.available, current.debt) == (0, 0)


async def test_a_return_after_spending_leaves_debt_when_allowed(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme(allow_debt=True))
    anna = await member(db, clock)
    await buy(service, anna, "p1", *SCONE_BASKET)
    await spend(db, clock, anna, 100)
    result = await give_back(service, "p1", "r1", back("koffiebonen"), back("scone"))
    # What is owed is taken: nothing is waived.
    assert (result.points_reversed, result.points_waived) == (153, 0)
    reversal = (await entries(db, anna))[-1]
    assert (reversal.kind, reversal.points) == ("reverse", -153)
    current = await balance(service, db, anna)
    assert (current.available, current.debt) == (-100, 100)
    # No spending while in debt.
    await fails("INSUFFICIENT_POINTS", service.adjust(ref(anna), -1, "test", actor="staff"))
    # The next purchase pays the debt first.
    await buy(service, anna, "p2", line("koffie", "12.00"))
    current = await balance(service, db, anna)
    assert (current.available, current.debt, current.lifetime_earned) == (20, 0, 120)
    async with db.unit_of_work(write=False) as uow:
        account = await uow.session.get(PointAccount, anna)
    assert account is not None and (account.balance, account.debt) == (20, 0)


async def test_returning_excluded_lines_reverses_nothing(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    purchase = await buy(
        service, anna, "p1", line("koffie", "10.00"), line("bon", "25.00", category="cadeaubon")
    )
    assert purchase.points_earned == 100  # the gift card earns nothing, nor counts for the bonus
    before = len(await entries(db, anna))
    result = await give_back(service, "p1", "r1", back("bon"))
    assert result.points_reversed == 0
    assert len(await entries(db, anna)) == before
    row = await purchase_row(db, "p1")
    assert (row.returned_total, row.returned_eligible) == (Decimal("25.00"), Decimal("0.00"))
    assert (await balance(service, db, anna)).available == 100
    # The coffee then takes back all of it.
    assert (await give_back(service, "p1", "r2", back("koffie"))).points_reversed == 100


# --- events -----------------------------------------------------------------------------------


async def event(
    service: PointsService, member_id: int, external_id: str, name: str, **kwargs: Any
) -> int:
    result = await service.record_event(EventInput(ref(member_id), external_id, name, **kwargs))
    assert not result.replayed
    return result.points_awarded


async def test_events_earn_by_name_within_their_limits(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    assert await event(service, anna, "e1", "app_installed") == 100
    assert await event(service, anna, "e2", "App_Installed") == 0  # once ever
    # Once a year: again in the next local year, which starts at 23:00 UTC on 31 December.
    assert await event(service, anna, "b1", "birthday") == 250
    clock.set(datetime(2026, 12, 31, 22, 59, tzinfo=UTC))
    assert await event(service, anna, "b2", "birthday") == 0
    clock.set(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    assert await event(service, anna, "b3", "birthday") == 250
    # 75 points a month from reviews: three reviews, then nothing until next month.
    reviews = [await event(service, anna, f"r{i}", "review_written") for i in range(4)]
    assert reviews == [25, 25, 25, 0]
    clock.set(datetime(2027, 1, 31, 22, 59, tzinfo=UTC))  # still January in Amsterdam
    assert await event(service, anna, "r5", "review_written") == 0
    clock.set(datetime(2027, 1, 31, 23, 0, tzinfo=UTC))
    assert await event(service, anna, "r6", "review_written") == 25
    rows = await entries(db, anna)
    assert all(e.kind == "bonus" and e.source_type == "event" for e in rows)
    assert [(e.rule, e.points) for e in rows] == [
        ("welkom", 100),
        ("verjaardag", 250),
        ("verjaardag", 250),
        ("review", 25),
        ("review", 25),
        ("review", 25),
        ("review", 25),
    ]
    assert (await balance(service, db, anna)).available == 700
    # The 11 reported here, and the sign-up that creating the member recorded (worth nothing
    # in this programme).
    assert await count(db, MemberEvent) == 11 + 1


async def test_events_are_idempotent_and_unknown_ones_are_recorded(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    bob = await member(db, clock, "bob")
    assert await event(service, anna, "e1", "app_installed") == 100
    again = await service.record_event(EventInput(ref(anna), "e1", "app_installed"))
    assert (again.points_awarded, again.replayed) == (100, True)
    await fails(
        "IDEMPOTENCY_CONFLICT", service.record_event(EventInput(ref(bob), "e1", "app_installed"))
    )
    assert len(await entries(db, anna)) == 1 and await entries(db, bob) == []
    assert await event(service, anna, "e2", "app_opened", properties={"screen": "home"}) == 0
    async with db.unit_of_work(write=False) as uow:
        opened = await uow.session.scalar(
            select(MemberEvent).where(MemberEvent.external_id == "e2")
        )
    assert opened is not None
    assert (opened.member_id, opened.name, opened.points_awarded) == (anna, "app_opened", 0)
    assert opened.properties == {"screen": "home"}
    assert len(await entries(db, anna)) == 1
    await set_status(db, bob, "blocked")
    await fails(
        "MEMBER_NOT_ACTIVE", service.record_event(EventInput(ref(bob), "e3", "app_installed"))
    )


# --- manual adjustments -----------------------------------------------------------------------


async def test_a_positive_adjustment_is_not_earned(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    entry, replayed = await service.adjust(ref(anna), 500, "  Coffee machine broke ", actor="eva")
    assert not replayed
    assert (entry.kind, entry.points, entry.actor, entry.reason) == (
        "adjust",
        500,
        "eva",
        "Coffee machine broke",
    )
    assert entry.source_type == "adjustment" and entry.description.startswith("Adjusted:")
    current = await balance(service, db, anna)
    assert (current.available, current.lifetime_earned) == (500, 0)
    await fails("REASON_REQUIRED", service.adjust(ref(anna), 5, "   ", actor="eva"))
    await fails("INVALID_POINTS", service.adjust(ref(anna), 0, "nothing", actor="eva"))
    assert len(await entries(db, anna)) == 1


async def test_a_negative_adjustment_takes_from_available_lots(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme(pending_days=14))
    anna = await member(db, clock)
    await service.adjust(ref(anna), 300, "first", actor="eva")
    clock.advance(timedelta(hours=1))
    await service.adjust(ref(anna), 200, "second", actor="eva")
    await buy(service, anna, "p1", line("koffie", "10.00"))  # 100 pending: not to be taken
    before = [e.id for e in await entries(db, anna)]
    await fails("INSUFFICIENT_POINTS", service.adjust(ref(anna), -501, "too much", actor="eva"))
    assert [e.id for e in await entries(db, anna)] == before
    current = await balance(service, db, anna)
    assert (current.available, current.pending) == (500, 100)
    entry, _ = await service.adjust(ref(anna), -350, "typo", actor="eva")
    assert (entry.kind, entry.points, entry.reason) == ("adjust", -350, "typo")
    async with db.unit_of_work(write=False) as uow:
        lots = list(await uow.session.scalars(select(PointLot).order_by(PointLot.id)))
    # The oldest lot goes first (none of them expires).
    assert [lot.remaining for lot in lots] == [0, 150, 100]
    current = await balance(service, db, anna)
    assert (current.available, current.pending, current.lifetime_earned) == (150, 100, 100)


async def test_adjustments_are_idempotent_by_key(
    db: Database, clock: FixedClock, service: PointsService
) -> None:
    await install(db, clock, programme())
    anna = await member(db, clock)
    bob = await member(db, clock, "bob")
    first, replayed = await service.adjust(
        ref(anna), 250, "goodwill", actor="eva", idempotency_key="ticket-81"
    )
    assert not replayed
    again, replayed = await service.adjust(
        ref(anna), 250, "goodwill", actor="eva", idempotency_key="ticket-81"
    )
    assert replayed and again.id == first.id
    assert len(await entries(db, anna)) == 1
    assert (await balance(service, db, anna)).available == 250
    for who, points in ((anna, 300), (bob, 250)):
        error = await fails(
            "IDEMPOTENCY_CONFLICT",
            service.adjust(ref(who), points, "goodwill", actor="eva", idempotency_key="ticket-81"),
        )
        assert error.field == "idempotencyKey"
    assert (await balance(service, db, anna)).available == 250
    assert await entries(db, bob) == []
