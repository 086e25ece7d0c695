"""The balance read model: a member's points at an instant, exact whether or not the scheduled
jobs have run, and the `BalanceChanged` events that carry it to listeners."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from loyalty.core.events import BalanceChanged
from loyalty.core.outbox import emit
from loyalty.points import lots
from loyalty.points.models import LedgerEntry, PointAccount, PointLot

# Lot sums per member: (available, pending, soonest expiry within the warning period).
_Sums = tuple[int, int, datetime | None]


@dataclass(frozen=True)
class Balance:
    available: int
    pending: int
    lifetime_earned: int
    debt: int
    expiring_points: int
    expiring_at: datetime | None


async def balance(
    s: AsyncSession, member_id: int, now: datetime, *, warn_days: int = 30
) -> Balance:
    return (await balances(s, [member_id], now, warn_days=warn_days))[member_id]


async def balances(
    s: AsyncSession, member_ids: Sequence[int], now: datetime, *, warn_days: int = 30
) -> dict[int, Balance]:
    """Members' points at `now`, exact to the second whether or not the scheduled jobs have
    run: pending lots count as pending and expired ones not at all. Three queries however
    many members are asked for; none when this transaction already knows the lot sums
    (`lots.known`, kept by a purchase)."""
    if len(member_ids) == 1 and warn_days == lots.WARN_DAYS:
        known = lots.known(s, member_ids[0], now)
        if known is not None:
            account = (await _accounts(s, member_ids)).get(member_ids[0])
            return {member_ids[0]: _balance(known, account)}
    live = or_(PointLot.expires_at.is_(None), PointLot.expires_at > now)
    soon = and_(live, PointLot.expires_at <= now + timedelta(days=warn_days))
    mine = and_(PointLot.member_id.in_(member_ids), PointLot.remaining > 0)
    sums = await _lot_sums(s, now, mine, live, soon)
    expiring: dict[tuple[int, datetime | None], int] = {}
    if any(soonest is not None for _, _, soonest in sums.values()):
        expiring = {
            (row[0], row[1]): int(row[2])
            for row in await s.execute(
                select(PointLot.member_id, PointLot.expires_at, func.sum(PointLot.remaining))
                .where(mine, soon)
                .group_by(PointLot.member_id, PointLot.expires_at)
            )
        }
    accounts = await _accounts(s, member_ids)
    result = {}
    for member_id in member_ids:
        available, pending, soonest = sums.get(member_id, (0, 0, None))
        account = accounts.get(member_id)
        debt = account.debt if account else 0
        result[member_id] = Balance(
            available=available - debt,
            pending=pending,
            lifetime_earned=account.lifetime_earned if account else 0,
            debt=debt,
            expiring_points=expiring.get((member_id, soonest), 0) if soonest else 0,
            expiring_at=soonest,
        )
    return result


def _balance(known: lots.LotTotals, account: PointAccount | None) -> Balance:
    debt = account.debt if account else 0
    return Balance(
        available=known.available - debt,
        pending=known.pending,
        lifetime_earned=account.lifetime_earned if account else 0,
        debt=debt,
        expiring_points=known.expiring if known.soonest else 0,
        expiring_at=known.soonest,
    )


async def _lot_sums(
    s: AsyncSession,
    now: datetime,
    mine: ColumnElement[bool],
    live: ColumnElement[bool],
    soon: ColumnElement[bool],
) -> dict[int, _Sums]:
    spendable = and_(PointLot.available_at <= now, live)
    # Points that expire before they ever become available are not pending either.
    not_yet = and_(PointLot.available_at > now, live)
    return {
        row[0]: (int(row[1]), int(row[2]), row[3])
        for row in await s.execute(
            select(
                PointLot.member_id,
                func.coalesce(func.sum(case((spendable, PointLot.remaining), else_=0)), 0),
                func.coalesce(func.sum(case((not_yet, PointLot.remaining), else_=0)), 0),
                func.min(case((soon, PointLot.expires_at))),
            )
            .where(mine)
            .group_by(PointLot.member_id)
        )
    }


async def _accounts(s: AsyncSession, member_ids: Sequence[int]) -> dict[int, PointAccount]:
    if len(member_ids) == 1:
        # Usually already in the session (the account was locked): no query then.
        one = await s.get(PointAccount, member_ids[0])
        return {one.member_id: one} if one else {}
    return {
        a.member_id: a
        for a in await s.scalars(select(PointAccount).where(PointAccount.member_id.in_(member_ids)))
    }


# Where a session keeps each member's balance after the last change it made: what a write
# answers with, without reading the balance again after it commits.
_LAST_BALANCE = "trouw.last_balance"


def last_balance(s: AsyncSession, member_id: int) -> Balance | None:
    """The member's balance after the last change made in this session, if any."""
    known: dict[int, Balance] = s.info.get(_LAST_BALANCE, {})
    return known.get(member_id)


async def balance_event(
    s: AsyncSession, member_id: int, entries: Sequence[LedgerEntry], now: datetime
) -> None:
    """Tell listeners about new entries, each with the balance after the whole change."""
    await balance_events(s, {member_id: entries}, now)


async def balance_events(
    s: AsyncSession, changes: Mapping[int, Sequence[LedgerEntry]], now: datetime
) -> None:
    """`balance_event` for many members' changes, their balances read in one go."""
    found = await balances(s, list(changes), now)
    for member_id, entries in changes.items():
        current = found[member_id]
        s.info.setdefault(_LAST_BALANCE, {})[member_id] = current
        for entry in entries:
            emit(
                s,
                BalanceChanged(
                    member_id=member_id,
                    entry_id=entry.id,
                    kind=entry.kind,
                    points=entry.points,
                    entry_description=entry.description,
                    occurred_at=entry.occurred_at,
                    available_at=entry.available_at,
                    expires_at=entry.expires_at,
                    available=current.available,
                    pending=current.pending,
                    lifetime_earned=current.lifetime_earned,
                    debt=current.debt,
                    expiring_points=current.expiring_points,
                    expiring_at=current.expiring_at,
                ),
                now,
            )
