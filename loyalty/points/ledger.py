"""The points ledger: append-only entries, lots that are spent soonest-expiring first, and the
cached balance row that serialises every change of one member's points.

Every function here expects the caller to hold the member's account lock (`lock_account`)
inside a write unit of work, and keeps these invariants:

    account.balance == Σ entries.points == Σ lots.remaining - account.debt
    available (lots spendable now, minus debt) >= 0 unless the programme allows debt
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from loyalty.core.errors import DomainError
from loyalty.points import lots as lot_totals
from loyalty.points.accounts import lock_account, lock_accounts
from loyalty.points.balances import Balance, balance, balances
from loyalty.points.errors import PointsError
from loyalty.points.models import LedgerEntry, LotAllocation, PointAccount, PointLot
from loyalty.storage.numbering import flush_many

# The balance read model lives in `loyalty.points.balances`, the account lock in
# `loyalty.points.accounts`; callers may keep reaching them here.
__all__ = [
    "SPEND_ORDER",
    "Balance",
    "Credit",
    "EntryMeta",
    "balance",
    "balances",
    "credit",
    "credit_lots",
    "credit_many",
    "debit",
    "lock_account",
    "lock_accounts",
    "restore",
    "settle",
    "spend",
]


@dataclass(frozen=True)
class EntryMeta:
    """Where an entry came from, for the history and for audits."""

    description: str
    source_type: str | None = None
    source_id: int | None = None
    rule: str | None = None
    actor: str | None = None
    reason: str | None = None
    idempotency_key: str | None = None


def _entry(
    s: AsyncSession,
    account: PointAccount,
    kind: str,
    points: int,
    *,
    occurred_at: datetime,
    now: datetime,
    meta: EntryMeta,
    available_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> LedgerEntry:
    entry = LedgerEntry(
        member_id=account.member_id,
        kind=kind,
        points=points,
        occurred_at=occurred_at,
        recorded_at=now,
        available_at=available_at,
        expires_at=expires_at,
        description=meta.description[:200],
        source_type=meta.source_type,
        source_id=meta.source_id,
        rule=meta.rule,
        actor=meta.actor,
        reason=meta.reason,
        idempotency_key=meta.idempotency_key,
    )
    s.add(entry)
    account.balance += points
    account.updated_at = now
    return entry


def _spendable(member_id: int, now: datetime) -> list[ColumnElement[bool]]:
    return [
        PointLot.member_id == member_id,
        PointLot.remaining > 0,
        PointLot.available_at <= now,
        or_(PointLot.expires_at.is_(None), PointLot.expires_at > now),
    ]


# Soonest-expiring first; lots that never expire last; then oldest first.
SPEND_ORDER = (
    PointLot.expires_at.is_(None),
    PointLot.expires_at,
    PointLot.occurred_at,
    PointLot.id,
)


async def _spendable_lots(s: AsyncSession, member_id: int, now: datetime) -> list[PointLot]:
    return list(
        await s.scalars(select(PointLot).where(*_spendable(member_id, now)).order_by(*SPEND_ORDER))
    )


def _take(s: AsyncSession, entry: LedgerEntry, lots: Sequence[PointLot], points: int) -> int:
    """Take up to `points` from `lots` in order, recording where they came from."""
    need = points
    for lot in lots:
        if need == 0:
            break
        part = min(lot.remaining, need)
        if part <= 0:
            continue
        lot.remaining -= part
        need -= part
        s.add(LotAllocation(entry_id=entry.id, lot_id=lot.id, points=part))
    return points - need


@dataclass(frozen=True)
class Credit:
    kind: str
    points: int
    meta: EntryMeta


@dataclass(frozen=True)
class NewLot:
    """A credit to one account as a lot of its own, pending until `available_at`."""

    account: PointAccount
    credit: Credit
    occurred_at: datetime
    available_at: datetime
    expires_at: datetime | None
    purchase_id: int | None = None


async def credit_many(
    s: AsyncSession,
    account: PointAccount,
    credits: Sequence[Credit],
    *,
    occurred_at: datetime,
    now: datetime,
    available_at: datetime,
    expires_at: datetime | None,
    purchase_id: int | None = None,
    counts_as_earned: bool = True,
) -> list[LedgerEntry]:
    """Add points as new lots, one per credit (pending until `available_at`)."""
    lots = [NewLot(account, c, occurred_at, available_at, expires_at, purchase_id) for c in credits]
    return await credit_lots(s, lots, now=now, counts_as_earned=counts_as_earned)


async def credit_lots(
    s: AsyncSession, lots: Sequence[NewLot], *, now: datetime, counts_as_earned: bool = True
) -> list[LedgerEntry]:
    """Add points as new lots, to one account or many (an import's opening balances), in
    two flushes however many there are."""
    if any(lot.credit.points <= 0 for lot in lots):
        raise ValueError("a credit must be positive")
    entries = [
        _entry(
            s,
            lot.account,
            lot.credit.kind,
            lot.credit.points,
            occurred_at=lot.occurred_at,
            now=now,
            meta=lot.credit.meta,
            available_at=lot.available_at,
            expires_at=lot.expires_at,
        )
        for lot in lots
    ]
    if counts_as_earned:
        for lot in lots:
            lot.account.lifetime_earned += lot.credit.points
    await flush_many(s)
    added = [
        PointLot(
            member_id=lot.account.member_id,
            entry_id=entry.id,
            purchase_id=lot.purchase_id,
            amount=entry.points,
            remaining=entry.points,
            occurred_at=lot.occurred_at,
            available_at=lot.available_at,
            expires_at=lot.expires_at,
            released_at=now if lot.available_at <= now else None,
        )
        for lot, entry in zip(lots, entries, strict=True)
    ]
    s.add_all(added)
    lot_totals.count(s, added, now)
    await flush_many(s)
    for account in {id(lot.account): lot.account for lot in lots}.values():
        await _pay_debt(s, account, now)
    return entries


async def credit(
    s: AsyncSession,
    account: PointAccount,
    kind: str,
    points: int,
    *,
    occurred_at: datetime,
    now: datetime,
    available_at: datetime,
    expires_at: datetime | None,
    meta: EntryMeta,
    purchase_id: int | None = None,
    counts_as_earned: bool = True,
) -> LedgerEntry:
    entries = await credit_many(
        s,
        account,
        [Credit(kind, points, meta)],
        occurred_at=occurred_at,
        now=now,
        available_at=available_at,
        expires_at=expires_at,
        purchase_id=purchase_id,
        counts_as_earned=counts_as_earned,
    )
    return entries[0]


async def spend(
    s: AsyncSession, account: PointAccount, points: int, *, now: datetime, meta: EntryMeta
) -> LedgerEntry:
    """Spend points from available lots, soonest-expiring first, or fail with
    INSUFFICIENT_POINTS and change nothing."""
    if points <= 0:
        raise ValueError("a spend must be positive")
    await settle(s, account, now)
    lots = await _spendable_lots(s, account.member_id, now)
    available = sum(lot.remaining for lot in lots) - account.debt
    if available < points:
        raise DomainError(
            PointsError.INSUFFICIENT_POINTS,
            f"Needs {points} points; {max(available, 0)} available",
        )
    entry = _entry(s, account, "spend", -points, occurred_at=now, now=now, meta=meta)
    await s.flush()
    _take(s, entry, lots, points)
    account.lifetime_spent += points
    await s.flush()
    return entry


async def debit(
    s: AsyncSession,
    account: PointAccount,
    kind: str,
    points: int,
    *,
    now: datetime,
    meta: EntryMeta,
    first: Sequence[PointLot] = (),
    allow_debt: bool = False,
) -> tuple[LedgerEntry | None, int]:
    """Take back up to `points`: from `first` (e.g. the purchase's own lots), then from any
    available lot. What cannot be found becomes debt if allowed, else is waived.
    Returns the entry (None when nothing was taken) and the points it took."""
    await settle(s, account, now)
    others = [
        lot
        for lot in await _spendable_lots(s, account.member_id, now)
        if lot.id not in {f.id for f in first}
    ]
    lots = [*first, *others]
    # Debt is only ever outstanding while no lot is spendable, so every lot here is free.
    found = min(points, sum(lot.remaining for lot in lots))
    owed = points - found if allow_debt else 0
    if found + owed == 0:
        return None, 0
    entry = _entry(s, account, kind, -(found + owed), occurred_at=now, now=now, meta=meta)
    await s.flush()
    _take(s, entry, lots, found)
    account.debt += owed
    await s.flush()
    return entry, found + owed


async def restore(
    s: AsyncSession, account: PointAccount, spent: LedgerEntry, *, now: datetime, meta: EntryMeta
) -> LedgerEntry:
    """Give back what a spend took, to the lots it came from (keeping their expiry)."""
    allocations = list(
        await s.scalars(select(LotAllocation).where(LotAllocation.entry_id == spent.id))
    )
    points = sum(a.points for a in allocations)
    entry = _entry(s, account, "refund", points, occurred_at=now, now=now, meta=meta)
    await s.flush()
    lots = {
        lot.id: lot
        for lot in await s.scalars(
            select(PointLot).where(PointLot.id.in_([a.lot_id for a in allocations]))
        )
    }
    for allocation in allocations:
        lots[allocation.lot_id].remaining += allocation.points
    account.lifetime_spent -= points
    await s.flush()
    await settle(s, account, now)
    return entry


async def settle(s: AsyncSession, account: PointAccount, now: datetime) -> list[LedgerEntry]:
    """Write the expiry of every lot whose time has come, then pay any debt from what is
    available. Idempotent: a second call at the same instant changes nothing."""
    due = list(
        await s.scalars(
            select(PointLot)
            .where(
                PointLot.member_id == account.member_id,
                PointLot.remaining > 0,
                PointLot.expires_at.is_not(None),
                PointLot.expires_at <= now,
            )
            .order_by(PointLot.expires_at, PointLot.id)
        )
    )
    by_instant: dict[datetime, list[PointLot]] = defaultdict(list)
    for lot in due:
        assert lot.expires_at is not None
        by_instant[lot.expires_at].append(lot)
    entries = []
    for instant, lots in by_instant.items():
        points = sum(lot.remaining for lot in lots)
        entry = _entry(
            s,
            account,
            "expire",
            -points,
            occurred_at=instant,
            now=now,
            meta=EntryMeta("Points expired", source_type="expiry"),
        )
        await s.flush()
        _take(s, entry, lots, points)
        account.lifetime_expired += points
        entries.append(entry)
    await s.flush()
    await _pay_debt(s, account, now)
    return entries


async def _pay_debt(s: AsyncSession, account: PointAccount, now: datetime) -> None:
    """Points owed are paid from available lots as soon as there are any. No entry is
    written: the debt was already booked by the entry that created it."""
    if account.debt <= 0:
        return
    lots = await _spendable_lots(s, account.member_id, now)
    need = account.debt
    for lot in lots:
        part = min(lot.remaining, need)
        lot.remaining -= part
        need -= part
        if need == 0:
            break
    account.debt = need
    await s.flush()
