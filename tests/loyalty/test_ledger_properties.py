"""Property-based tests of the points ledger.

Random sequences of purchases (pending or already available, some back-dated far enough to be
expired on arrival), spends, returns (by lines or amount, partial, full, repeated, replayed),
manual adjustments, clock moves (often exactly onto a lot's boundary) and the release / expiry
jobs run against a real database of each backend. After every step the invariants are checked
straight from the tables:

    account.balance == Σ entries.points == Σ lots.remaining - account.debt
    available == Σ remaining of lots spendable now - debt  (>= 0 unless debt is allowed)
    pending == Σ remaining of lots not yet available and not expired
    0 <= lot.remaining <= lot.amount
    lifetime counters == the sums of their entries; lifetime_earned never drops on a spend
    Σ allocations of a negative entry == -entry.points, except the owed part of a reversal,
    and the owed part minus what was paid back from later lots == account.debt
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from loyalty import jobs
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.points import ledger
from loyalty.points.models import LedgerEntry, LotAllocation, PointAccount, PointLot, Purchase
from loyalty.points.service import (
    MemberRef,
    PointsService,
    PurchaseInput,
    PurchaseLine,
    ReturnInput,
    ReturnLine,
)
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database
from tests.loyalty.services import add_member

HEADER = """\
programme:
  key: eigenwijs
  name: Eigenwijs
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
earning:
  rules:
    - key: big-basket
      kind: bonus
      points: 15
      min_order: "40.00"
"""

# Purchases are pending two days; lots expire at the end of the month, so points earned in
# its last two days expire while still pending. No debt.
STRICT = """\
points:
  pending_days: 2
  expiry: {method: end_of_month, months: 0, warn_days_before: 5}
  allow_negative_balance: false
"""

# Points are available at once and expire at the end of the third local day; returns may take
# the balance below zero.
DEBT = """\
points:
  pending_days: 0
  expiry: {method: after_days, days: 3, warn_days_before: 1}
  allow_negative_balance: true
"""

VARIANTS = {"strict": STRICT, "debt": DEBT}

# Examples start close to the interesting boundaries of Amsterdam time: the spring and autumn
# DST changes, the end of a month and the end of a year. All on whole hours, so moving the clock
# by whole hours lands exactly on local midnights.
STARTS = (
    datetime(2026, 3, 27, 21, 0, tzinfo=UTC),
    datetime(2026, 10, 23, 20, 0, tzinfo=UTC),
    datetime(2026, 6, 29, 10, 0, tzinfo=UTC),
    datetime(2026, 12, 30, 12, 0, tzinfo=UTC),
)

_ids = itertools.count()


async def install(db: Database, yaml_text: str) -> None:
    # Installed at the real time: the parsed-file cache is keyed by (programme id, updated_at),
    # so two tests installing different files at the same fixed instant would share an entry.
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(yaml_text), datetime.now(UTC))
        await uow.commit()


@dataclass(frozen=True)
class Variant:
    name: str
    allow_debt: bool


@pytest.fixture(params=sorted(VARIANTS))
async def variant(request: pytest.FixtureRequest, db: Database) -> Variant:
    await install(db, HEADER + VARIANTS[request.param])
    return Variant(request.param, allow_debt=request.param == "debt")


# --- operations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Buy:
    lines: tuple[tuple[str, int, int], ...]  # (sku, quantity, unit price in cents)
    backdate_hours: int


@dataclass(frozen=True)
class Spend:
    points: int


@dataclass(frozen=True)
class SpendShare:
    """Spend a share of what is available now; above 100 % it must be refused."""

    percent: int


@dataclass(frozen=True)
class Return:
    pick: int  # which purchase (modulo how many there are), and which line
    by_lines: bool
    percent: int  # of what is left to return
    replay: bool  # send the previous return of this purchase again


@dataclass(frozen=True)
class Adjust:
    points: int


@dataclass(frozen=True)
class Wait:
    hours: int


@dataclass(frozen=True)
class WaitForBoundary:
    """Move the clock to the member's next available_at / expires_at, or a second before."""

    offset_seconds: int


@dataclass(frozen=True)
class ExpireJob:
    pass


@dataclass(frozen=True)
class ReleaseJob:
    pass


Op = Buy | Spend | SpendShare | Return | Adjust | Wait | WaitForBoundary | ExpireJob | ReleaseJob

SKUS = ("latte", "beans", "mug")
line_strategy = st.tuples(st.sampled_from(SKUS), st.integers(1, 3), st.integers(0, 4000))
BUY = st.builds(
    Buy,
    lines=st.lists(line_strategy, min_size=1, max_size=3, unique_by=lambda x: x[0]).map(tuple),
    backdate_hours=st.sampled_from((0, 0, 0, 30, 100)),
)
SPEND_SHARE = st.builds(SpendShare, percent=st.sampled_from((10, 50, 100, 101, 120)))
RETURN = st.builds(
    Return,
    pick=st.integers(0, 10),
    by_lines=st.booleans(),
    percent=st.sampled_from((1, 30, 50, 100)),
    replay=st.booleans(),
)
# Weighted towards what changes points; a sequence starts with a purchase or two.
OPS: st.SearchStrategy[Op] = st.one_of(
    BUY,
    BUY,
    st.builds(Spend, points=st.integers(1, 250)),
    SPEND_SHARE,
    SPEND_SHARE,
    RETURN,
    RETURN,
    st.builds(Adjust, points=st.integers(-150, 150).filter(bool)),
    st.builds(Wait, hours=st.sampled_from((1, 5, 23, 24, 49, 72))),
    st.builds(WaitForBoundary, offset_seconds=st.sampled_from((-1, 0))),
    st.just(ExpireJob()),
    st.just(ReleaseJob()),
)
SEQUENCES = st.tuples(
    st.lists(BUY, min_size=1, max_size=2), st.lists(OPS, min_size=2, max_size=14)
).map(lambda parts: [*parts[0], *parts[1]])


# --- reading the tables ---------------------------------------------------------------------


class Account(NamedTuple):
    balance: int
    debt: int
    lifetime_earned: int
    lifetime_spent: int
    lifetime_expired: int


class Entry(NamedTuple):
    id: int
    kind: str
    points: int
    occurred_at: datetime
    source_id: int | None


class Lot(NamedTuple):
    id: int
    entry_id: int
    purchase_id: int | None
    amount: int
    remaining: int
    occurred_at: datetime
    available_at: datetime
    expires_at: datetime | None
    released_at: datetime | None


class Allocation(NamedTuple):
    id: int
    entry_id: int
    lot_id: int
    points: int


class PurchaseRow(NamedTuple):
    id: int
    points_earned: int
    points_reversed: int
    total: Decimal
    returned_total: Decimal
    eligible_total: Decimal
    returned_eligible: Decimal
    points_waived: int


@dataclass(frozen=True)
class State:
    account: Account
    entries: tuple[Entry, ...]
    lots: tuple[Lot, ...]
    allocations: tuple[Allocation, ...]
    purchases: tuple[PurchaseRow, ...]


async def observe(db: Database, member_id: int, now: datetime) -> tuple[State, ledger.Balance]:
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        row = await s.get(PointAccount, member_id)
        account = (
            Account(
                row.balance,
                row.debt,
                row.lifetime_earned,
                row.lifetime_spent,
                row.lifetime_expired,
            )
            if row
            else Account(0, 0, 0, 0, 0)
        )
        entries = tuple(
            Entry(e.id, e.kind, e.points, e.occurred_at, e.source_id)
            for e in await s.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.member_id == member_id)
                .order_by(LedgerEntry.id)
            )
        )
        lots = tuple(
            Lot(
                lot.id,
                lot.entry_id,
                lot.purchase_id,
                lot.amount,
                lot.remaining,
                lot.occurred_at,
                lot.available_at,
                lot.expires_at,
                lot.released_at,
            )
            for lot in await s.scalars(
                select(PointLot).where(PointLot.member_id == member_id).order_by(PointLot.id)
            )
        )
        allocations = tuple(
            Allocation(a.id, a.entry_id, a.lot_id, a.points)
            for a in await s.scalars(
                select(LotAllocation)
                .join(LedgerEntry, LedgerEntry.id == LotAllocation.entry_id)
                .where(LedgerEntry.member_id == member_id)
                .order_by(LotAllocation.id)
            )
        )
        purchases = tuple(
            PurchaseRow(
                p.id,
                p.points_earned,
                p.points_reversed,
                p.total,
                p.returned_total,
                p.eligible_total,
                p.returned_eligible,
                p.points_waived,
            )
            for p in await s.scalars(
                select(Purchase).where(Purchase.member_id == member_id).order_by(Purchase.id)
            )
        )
        current = await ledger.balance(s, member_id, now)
    return State(account, entries, lots, allocations, purchases), current


def live(lot: Lot, at: datetime) -> bool:
    return lot.expires_at is None or lot.expires_at > at


def spendable(lot: Lot, at: datetime) -> bool:
    return lot.available_at <= at and live(lot, at)


def check_invariants(
    state: State, current: ledger.Balance, now: datetime, allow_debt: bool
) -> None:
    account, entries, lots = state.account, state.entries, state.lots
    # The cached balance row, the ledger and the lots agree.
    assert account.balance == sum(e.points for e in entries)
    assert account.balance == sum(lot.remaining for lot in lots) - account.debt
    assert account.debt >= 0
    if not allow_debt:
        assert account.debt == 0
    for lot in lots:
        assert 0 <= lot.remaining <= lot.amount, lot

    # What the balance reports, computed here from the lots.
    assert current.available == (
        sum(lot.remaining for lot in lots if spendable(lot, now)) - account.debt
    )
    assert current.pending == sum(
        lot.remaining for lot in lots if lot.available_at > now and live(lot, now)
    )
    assert current.debt == account.debt
    assert current.lifetime_earned == account.lifetime_earned
    if not allow_debt:
        assert current.available >= 0

    # Lifetime counters are sums of their entries.
    def total(*kinds: str) -> int:
        return sum(e.points for e in entries if e.kind in kinds)

    assert account.lifetime_earned == total("earn", "bonus", "reverse")
    assert account.lifetime_spent == -total("spend")
    assert account.lifetime_expired == -total("expire")

    # Every lot is one positive entry, and every positive entry is one lot.
    by_id = {e.id: e for e in entries}
    lot_by_id = {lot.id: lot for lot in lots}
    assert sorted(lot.entry_id for lot in lots) == [e.id for e in entries if e.points > 0]
    for lot in lots:
        assert by_id[lot.entry_id].points == lot.amount
        assert by_id[lot.entry_id].kind in ("earn", "bonus", "adjust")

    # Allocations: what each negative entry took from which lots.
    taken: Counter[int] = Counter()
    from_lot: Counter[int] = Counter()
    for a in state.allocations:
        assert a.points > 0
        taken[a.entry_id] += a.points
        from_lot[a.lot_id] += a.points
        entry, lot = by_id[a.entry_id], lot_by_id[a.lot_id]
        if entry.kind == "expire":
            # Expiry takes only what remained of lots that expired at that instant.
            assert lot.expires_at == entry.occurred_at
        elif entry.kind in ("spend", "adjust"):
            # Spends take only lots that were spendable at the time.
            assert spendable(lot, entry.occurred_at), (entry, lot)
        else:
            assert entry.kind == "reverse"
            # A return takes the purchase's own points (even pending) or spendable ones.
            assert lot.purchase_id == entry.source_id or spendable(lot, entry.occurred_at)
    owed = 0
    for e in entries:
        if e.points > 0:
            assert taken[e.id] == 0
        elif e.kind == "reverse":
            assert 0 <= taken[e.id] <= -e.points
            if not allow_debt:
                assert taken[e.id] == -e.points
            owed += -e.points - taken[e.id]
        else:
            assert e.kind in ("spend", "expire", "adjust"), e
            assert taken[e.id] == -e.points, e
    # What a lot lost beyond its allocations paid debt; the rest of the debt is outstanding.
    paid = 0
    for lot in lots:
        assert from_lot[lot.id] <= lot.amount - lot.remaining, lot
        paid += lot.amount - lot.remaining - from_lot[lot.id]
    assert owed - paid == account.debt

    # Returns never take back more than the purchase earned.
    for p in state.purchases:
        assert 0 <= p.points_reversed <= p.points_earned
        clawed = -sum(e.points for e in entries if e.kind == "reverse" and e.source_id == p.id)
        assert clawed <= p.points_reversed
        if p.returned_eligible >= p.eligible_total:
            assert p.points_reversed == p.points_earned


# --- running a sequence ---------------------------------------------------------------------


@dataclass
class Bought:
    purchase_id: int
    external_id: str
    quantities: dict[str, int]
    prices: dict[str, int]  # cents
    returned: dict[str, int] = field(default_factory=dict)
    last_return: ReturnInput | None = None


@dataclass
class Run:
    db: Database
    clock: FixedClock
    member_id: int
    allow_debt: bool
    points: PointsService
    bought: list[Bought] = field(default_factory=list)
    # The last observation, while neither the tables nor the clock changed since.
    seen: tuple[State, ledger.Balance] | None = None

    async def observe(self) -> tuple[State, ledger.Balance]:
        self.seen = await observe(self.db, self.member_id, self.clock.now())
        return self.seen

    async def step(self, op: Op) -> None:
        before, was = self.seen or await self.observe()
        self.seen = None
        match op:
            case Buy():
                await self.buy(op, before, was)
            case Spend():
                await self.spend(op, before, was)
            case SpendShare():
                await self.spend(Spend(max(1, was.available * op.percent // 100)), before, was)
            case Return():
                await self.give_back(op, before)
            case Adjust():
                await self.adjust(op, before, was)
            case Wait():
                self.clock.advance(timedelta(hours=op.hours))
            case WaitForBoundary():
                ahead = [
                    at
                    for lot in before.lots
                    for at in (lot.available_at, lot.expires_at)
                    if at is not None
                    and at + timedelta(seconds=op.offset_seconds) > self.clock.now()
                ]
                if ahead:
                    self.clock.set(min(ahead) + timedelta(seconds=op.offset_seconds))
                else:
                    self.clock.advance(timedelta(hours=1))
            case ExpireJob():
                await self.expire(before, was)
            case ReleaseJob():
                await self.release(before, was)
        after, current = self.seen or await self.observe()
        check_invariants(after, current, self.clock.now(), self.allow_debt)

    async def buy(self, op: Buy, before: State, was: ledger.Balance) -> None:
        external_id = f"p-{next(_ids)}"
        result = await self.points.record_purchase(
            PurchaseInput(
                MemberRef(member_id=self.member_id),
                external_id,
                [
                    PurchaseLine(sku, Decimal(qty), Decimal(cents) / 100)
                    for sku, qty, cents in op.lines
                ],
                occurred_at=self.clock.now() - timedelta(hours=op.backdate_hours),
            )
        )
        assert not result.replayed
        self.bought.append(
            Bought(
                result.purchase.id,
                external_id,
                {sku: qty for sku, qty, _ in op.lines},
                {sku: cents for sku, _, cents in op.lines},
            )
        )
        after, now = await self.observe()
        new = [lot for lot in after.lots if lot.purchase_id == result.purchase.id]
        assert sum(lot.amount for lot in new) == result.purchase.points_earned
        assert after.account.lifetime_earned == (
            before.account.lifetime_earned + result.purchase.points_earned
        )
        at = self.clock.now()
        assert now.available == was.available + sum(lot.amount for lot in new if spendable(lot, at))
        assert now.pending == was.pending + sum(
            lot.amount for lot in new if lot.available_at > at and live(lot, at)
        )

    async def spend(self, op: Spend, before: State, was: ledger.Balance) -> None:
        now = self.clock.now()
        try:
            async with self.db.unit_of_work() as uow:
                account = await ledger.lock_account(uow.session, self.member_id, now)
                await ledger.spend(
                    uow.session, account, op.points, now=now, meta=ledger.EntryMeta("Test spend")
                )
                await uow.commit()
        except DomainError as refused:
            assert refused.code == "INSUFFICIENT_POINTS"
            assert op.points > was.available
            after, _ = await self.observe()
            assert after == before
            return
        assert op.points <= was.available
        after, current = await self.observe()
        assert current.available == was.available - op.points
        assert current.pending == was.pending
        assert after.account.lifetime_earned == before.account.lifetime_earned
        assert after.account.lifetime_spent == before.account.lifetime_spent + op.points

    async def adjust(self, op: Adjust, before: State, was: ledger.Balance) -> None:
        try:
            await self.points.adjust(
                MemberRef(member_id=self.member_id), op.points, "property test", actor="test"
            )
        except DomainError as refused:
            assert refused.code == "INSUFFICIENT_POINTS"
            assert -op.points > was.available
            after, _ = await self.observe()
            assert after == before
            return
        assert op.points > 0 or -op.points <= was.available
        after, current = await self.observe()
        assert current.available == was.available + op.points
        assert after.account.lifetime_earned == before.account.lifetime_earned
        assert after.account.lifetime_spent == before.account.lifetime_spent

    async def give_back(self, op: Return, before: State) -> None:
        if not self.bought:
            return
        bought = self.bought[op.pick % len(self.bought)]
        row = next(p for p in before.purchases if p.id == bought.purchase_id)
        if op.replay and bought.last_return is not None:
            result = await self.points.record_return(bought.last_return)
            assert result.replayed
            after, _ = await self.observe()
            assert after == before
            return
        left = {
            sku: qty - bought.returned.get(sku, 0)
            for sku, qty in bought.quantities.items()
            if qty > bought.returned.get(sku, 0)
        }
        left_cents = int((row.total - row.returned_total) * 100)
        returning: tuple[str, int] | None = None
        if op.by_lines and left:
            sku = sorted(left)[op.pick % len(left)]
            qty = max(1, left[sku] * op.percent // 100)
            data = ReturnInput(
                bought.external_id, f"r-{next(_ids)}", lines=[ReturnLine(sku, Decimal(qty))]
            )
            returning = (sku, qty)
            # After returns by amount, the money left may be less than these lines are worth.
            refusable = qty * bought.prices[sku] > left_cents
        else:
            if left_cents <= 0:
                return
            cents = max(1, left_cents * op.percent // 100)
            data = ReturnInput(bought.external_id, f"r-{next(_ids)}", amount=Decimal(cents) / 100)
            refusable = False
        try:
            result = await self.points.record_return(data)
        except DomainError as refused:
            assert refusable, refused.message
            assert refused.code == "RETURN_EXCEEDS_PURCHASE"
            after, _ = await self.observe()
            assert after == before
            return
        assert not result.replayed
        if returning is not None:
            sku, qty = returning
            bought.returned[sku] = bought.returned.get(sku, 0) + qty
        bought.last_return = data
        after, _ = await self.observe()
        new_row = next(p for p in after.purchases if p.id == bought.purchase_id)
        undone = result.points_reversed + result.points_waived
        assert new_row.points_reversed == row.points_reversed + undone
        assert new_row.points_waived == row.points_waived + result.points_waived
        known = {e.id for e in before.entries}
        new = [e for e in after.entries if e.id not in known]
        reversals = [e for e in new if e.kind == "reverse"]
        # Besides the reversal, only the expiry of lots whose time had come can be written.
        assert all(e.kind in ("reverse", "expire") for e in new)
        assert len(reversals) <= 1
        clawed = -sum(e.points for e in reversals)
        # What the return reports as taken is exactly what its entry took; with debt allowed
        # nothing is waived.
        assert clawed == result.points_reversed
        if self.allow_debt:
            assert result.points_waived == 0
        # Only the points actually taken back come off lifetime_earned.
        assert after.account.lifetime_earned == before.account.lifetime_earned - clawed

    async def expire(self, before: State, was: ledger.Balance) -> None:
        now = self.clock.now()
        await jobs.expire_points(self.db, now)
        after, current = await self.observe()
        # Balances are exact without the job: it changes the rows, never the balance.
        assert (current.available, current.pending) == (was.available, was.pending)
        gone = sum(
            lot.remaining
            for lot in before.lots
            if lot.expires_at is not None and lot.expires_at <= now
        )
        assert after.account.lifetime_expired == before.account.lifetime_expired + gone
        assert after.account.balance == before.account.balance - gone
        for lot in after.lots:
            if lot.expires_at is not None and lot.expires_at <= now:
                assert lot.remaining == 0
        # Idempotent.
        await jobs.expire_points(self.db, now)
        assert (await self.observe())[0] == after

    async def release(self, before: State, was: ledger.Balance) -> None:
        now = self.clock.now()
        await jobs.release_pending(self.db, now)
        after, current = await self.observe()
        assert (current.available, current.pending) == (was.available, was.pending)
        assert after.account == before.account
        for old, new in zip(before.lots, after.lots, strict=True):
            assert new._replace(released_at=None) == old._replace(released_at=None)
            if old.released_at is not None:
                assert new.released_at == old.released_at
            elif old.available_at <= now:
                assert new.released_at == now
            else:
                assert new.released_at is None
        await jobs.release_pending(self.db, now)
        assert (await self.observe())[0] == after


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(start=st.sampled_from(STARTS), ops=SEQUENCES)
# Spend everything, then return the purchase: debt where allowed, a clamp to zero elsewhere;
# then earn again (paying the debt) and return part of that by lines, twice, and replay.
@example(
    start=STARTS[0],
    ops=[
        Buy((("beans", 2, 2500),), backdate_hours=100),
        SpendShare(100),
        Return(0, by_lines=False, percent=100, replay=False),
        Spend(1),
        Buy((("mug", 3, 900), ("latte", 1, 350)), backdate_hours=100),
        Return(1, by_lines=True, percent=50, replay=False),
        Return(1, by_lines=True, percent=100, replay=True),
        Return(1, by_lines=True, percent=100, replay=False),
        Adjust(-5),
        ExpireJob(),
    ],
)
# Points earned on the last day of the month expire before their pending period ends.
@example(
    start=STARTS[2],
    ops=[
        Wait(24),
        Buy((("beans", 1, 2000),), backdate_hours=0),
        Wait(13),
        ReleaseJob(),
        WaitForBoundary(0),
        ExpireJob(),
        ReleaseJob(),
        Adjust(10),
        SpendShare(100),
    ],
)
async def test_ledger_invariants_hold_after_every_step(
    db: Database, clock: FixedClock, variant: Variant, start: datetime, ops: list[Op]
) -> None:
    # Each example gets a member of its own; earlier examples' members are left alone.
    clock.set(start)
    member = await add_member(db, clock, f"prop-{next(_ids)}@example.com")
    run = Run(db, clock, member.id, variant.allow_debt, PointsService(db, clock))
    state, current = await run.observe()
    check_invariants(state, current, clock.now(), variant.allow_debt)
    for op in ops:
        await run.step(op)


# --- debt, step by step -----------------------------------------------------------------------

SIMPLE = """\
points:
  pending_days: 0
  expiry: {method: never}
  allow_negative_balance: %s
"""


async def _simple_member(
    db: Database, clock: FixedClock, allow_debt: bool
) -> tuple[Run, PointsService]:
    await install(db, HEADER + SIMPLE % ("true" if allow_debt else "false"))
    clock.set(datetime(2026, 5, 4, 10, 0, tzinfo=UTC))
    member = await add_member(db, clock, f"debt-{next(_ids)}@example.com")
    service = PointsService(db, clock)
    return Run(db, clock, member.id, allow_debt, service), service


async def _buy(run: Run, service: PointsService, external_id: str, euros: str) -> None:
    run.seen = None
    await service.record_purchase(
        PurchaseInput(
            MemberRef(member_id=run.member_id),
            external_id,
            [PurchaseLine("latte", Decimal(1), Decimal(euros))],
        )
    )


async def _checked(run: Run) -> tuple[State, ledger.Balance]:
    state, current = await run.observe()
    check_invariants(state, current, run.clock.now(), run.allow_debt)
    return state, current


async def test_return_after_spending_creates_debt_that_later_earnings_pay_off(
    db: Database, clock: FixedClock
) -> None:
    run, service = await _simple_member(db, clock, allow_debt=True)
    await _buy(run, service, "first", "30.00")  # 30 points, under the bonus threshold
    await run.step(Spend(25))
    result = await service.record_return(ReturnInput("first", "back", amount=Decimal("30.00")))
    assert result.points_reversed == 30
    state, current = await _checked(run)
    # 5 points were still in the lot; the other 25 are owed.
    assert state.account == Account(-25, 25, 0, 25, 0)
    assert (current.available, current.debt) == (-25, 25)
    [reverse] = [e for e in state.entries if e.kind == "reverse"]
    assert reverse.points == -30
    assert [a.points for a in state.allocations if a.entry_id == reverse.id] == [5]

    # Nothing can be spent while in debt, and a refusal changes nothing.
    await run.step(Spend(1))
    assert (await _checked(run))[0] == state

    # Later earnings pay the debt off first, without a ledger entry of their own.
    await _buy(run, service, "second", "10.00")
    state, current = await _checked(run)
    assert state.account == Account(-15, 15, 10, 25, 0)
    assert current.available == -15
    assert [lot.remaining for lot in state.lots] == [0, 0]
    await _buy(run, service, "third", "20.00")
    state, current = await _checked(run)
    assert state.account == Account(5, 0, 30, 25, 0)
    assert (current.available, current.debt) == (5, 0)
    assert [lot.remaining for lot in state.lots] == [0, 0, 5]
    assert [e.kind for e in state.entries] == ["earn", "spend", "reverse", "earn", "earn"]
    await run.step(Spend(5))
    assert (await _checked(run))[1].available == 0


async def test_without_debt_a_return_after_spending_takes_only_what_is_left(
    db: Database, clock: FixedClock
) -> None:
    run, service = await _simple_member(db, clock, allow_debt=False)
    await _buy(run, service, "first", "30.00")
    await _buy(run, service, "other", "8.00")
    await run.step(Spend(25))  # 25 from the older lot (neither expires), 5 left in it
    result = await service.record_return(ReturnInput("first", "back", amount=Decimal("30.00")))
    # The purchase counts as fully reversed, but only the 13 points there were are taken;
    # the other 17 are waived, and reported so.
    assert (result.points_reversed, result.points_waived) == (13, 17)
    assert result.purchase.points_reversed == 30
    state, current = await _checked(run)
    assert state.account == Account(0, 0, 25, 25, 0)
    assert current.available == 0
    [reverse] = [e for e in state.entries if e.kind == "reverse"]
    assert reverse.points == -13
    # A second return of the same purchase takes nothing more.
    with pytest.raises(DomainError) as caught:
        await service.record_return(ReturnInput("first", "again", amount=Decimal("1.00")))
    assert caught.value.code == "RETURN_EXCEEDS_PURCHASE"
    await _buy(run, service, "later", "10.00")
    state, current = await _checked(run)
    assert current.available == 10
