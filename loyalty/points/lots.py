"""The lot sums a transaction already knows, so the balance it announces needs no query.

A purchase reads the member's lot sums (spendable, pending, the soonest expiry within the
warning period and what expires then) in the statement it sends after taking the account
lock (`loyalty.points.purchase_context`), i.e. after every earlier change of the member's
points committed. The ledger then counts the lots it adds (`count`), so the sums stay exact
for that instant. Anything else that changes a lot of the session (a spend, an expiry, a
debt paid back, a return) makes them unknown again: a flush with such a lot forgets them, and
the next balance is read from the lots as before."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, event, func, inspect, or_, select
from sqlalchemy.orm import Session

from loyalty.points.models import PointLot

# The warning period the balance shows (`balances.balance`'s default).
WARN_DAYS = 30
_KNOWN = "trouw.lot_totals"
# Set on a lot the sums already count, so flushing it does not make them unknown.
_COUNTED = "_trouw_counted"
# Lot attributes that move points between the sums.
_MOVING = ("remaining", "amount", "available_at", "expires_at", "member_id")


@dataclass
class LotTotals:
    member_id: int
    at: datetime
    available: int
    pending: int
    soonest: datetime | None
    expiring: int

    def add(self, lot: PointLot) -> None:
        if lot.expires_at is not None and lot.expires_at <= self.at:
            return  # expired on arrival: counted nowhere
        if lot.available_at <= self.at:
            self.available += lot.remaining
        else:
            self.pending += lot.remaining
        if lot.expires_at is None or lot.expires_at > horizon(self.at):
            return
        if self.soonest is None or lot.expires_at < self.soonest:
            self.soonest, self.expiring = lot.expires_at, lot.remaining
        elif lot.expires_at == self.soonest:
            self.expiring += lot.remaining


def horizon(now: datetime) -> datetime:
    """The end of the warning period that starts at `now`."""
    return now + timedelta(days=WARN_DAYS)


def columns(member_id: Any, now: Any, until: Any) -> list[ColumnElement[Any]]:
    """The member's lot sums at `now` as scalar subqueries: spendable, pending, soonest
    expiry within the warning period (ending `until`, `horizon(now)`), and the points that
    expire then. The values may be bound parameters of a kept statement."""
    live = or_(PointLot.expires_at.is_(None), PointLot.expires_at > now)
    soon = and_(live, PointLot.expires_at <= until)
    mine = (PointLot.member_id == member_id, PointLot.remaining > 0)

    def total(*where: ColumnElement[bool]) -> ColumnElement[Any]:
        query = select(func.coalesce(func.sum(PointLot.remaining), 0)).where(*mine, *where)
        return query.scalar_subquery()

    soonest = select(func.min(PointLot.expires_at)).where(*mine, soon).scalar_subquery()
    return [
        total(PointLot.available_at <= now, live),
        total(PointLot.available_at > now, live),
        soonest,
        total(soon, PointLot.expires_at == soonest),
    ]


def keep(s: Any, member_id: int, now: datetime, values: Sequence[Any]) -> None:
    """Remember the sums `columns` read (in the transaction that holds the account lock)."""
    available, pending, soonest, expiring = values
    totals = LotTotals(member_id, now, int(available), int(pending), soonest, int(expiring))
    s.info[_KNOWN] = (s.sync_session.get_transaction(), totals)


def known(s: Any, member_id: int, now: datetime) -> LotTotals | None:
    kept = s.info.get(_KNOWN)
    if kept is None:
        return None
    transaction, totals = kept
    if transaction is not s.sync_session.get_transaction():
        return None
    return totals if totals.member_id == member_id and totals.at == now else None


def count(s: Any, lots: Iterable[PointLot], now: datetime) -> None:
    """New lots of the member, added to the sums if they are known for `now`."""
    for lot in lots:
        totals = known(s, lot.member_id, now)
        if totals is not None:
            totals.add(lot)
            setattr(lot, _COUNTED, True)


def _moved(lot: PointLot) -> bool:
    state = inspect(lot)
    return any(state.attrs[name].history.has_changes() for name in _MOVING)


@event.listens_for(Session, "before_flush")
def _forget_on_change(session: Session, _context: Any, _instances: Any) -> None:
    if _KNOWN not in session.info:
        return
    new = any(isinstance(o, PointLot) and not getattr(o, _COUNTED, False) for o in session.new)
    changed = any(isinstance(o, PointLot) and _moved(o) for o in session.dirty)
    changed = changed or any(isinstance(o, PointLot) for o in session.deleted)
    if new or changed:
        session.info.pop(_KNOWN, None)
