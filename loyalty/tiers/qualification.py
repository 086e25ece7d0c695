"""What a member qualifies with: the window, in calendar days of the programme's time zone,
and the points or spend counted in it.

Points count by the purchase they came from: what the purchase earned less everything its
returns undid (waived claw-backs included), in the window of the purchase's own date, so a
return or a late upload changes the period the purchase belongs to, not the current one.
Points from events count on the event's date. Qualifying on the balance counts the points
the member could spend at that instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, event, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState, Session

from loyalty.points.balances import balance
from loyalty.points.models import LedgerEntry, Purchase
from loyalty.points.timeline import local_midnight
from loyalty.programme.spec import ProgrammeFile, TierLevel, TiersSpec
from loyalty.storage import direct

# The start of a lifetime window.
SINCE_EVER = datetime(1970, 1, 1, tzinfo=UTC)
# Ledger sources whose points qualify: purchases (through their rows) and events.
QUALIFYING_SOURCES = ("purchase", "event")


def window(spec: TiersSpec, now: datetime, file: ProgrammeFile) -> tuple[datetime, datetime | None]:
    """The qualification window containing `now`: its start, and its end if it has one.
    Rolling: from the same wall-clock time `rolling_days` calendar days ago (a day is 23 or
    25 hours across a daylight-saving change)."""
    zone = file.programme.zone
    if spec.window == "lifetime":
        return SINCE_EVER, None
    if spec.window == "calendar_year":
        year = now.astimezone(zone).year
        return local_midnight(date(year, 1, 1), zone), local_midnight(date(year + 1, 1, 1), zone)
    local = now.astimezone(zone).replace(tzinfo=None) - timedelta(days=spec.rolling_days)
    return local.replace(tzinfo=zone).astimezone(UTC), None


def previous_window_end(spec: TiersSpec, now: datetime, file: ProgrammeFile) -> datetime | None:
    """The last instant of the calendar period before the one containing `now` (None for
    windows that roll): what that period earned still decides the tier of this one."""
    if spec.window != "calendar_year":
        return None
    start, _ = window(spec, now, file)
    return start - timedelta(microseconds=1)


def _counted_between(qualify_on: str, member_id: Any, start: Any, end: Any) -> ColumnElement[Any]:
    """What counts from `start` to `end` as one SQL expression (spend or points): values, or
    bound parameters of a statement built once."""
    purchases = (
        Purchase.member_id == member_id,
        Purchase.occurred_at >= start,
        Purchase.occurred_at <= end,
    )
    if qualify_on == "spend":
        spent = Purchase.eligible_total - Purchase.returned_eligible
        return select(func.coalesce(func.sum(spent), 0)).where(*purchases).scalar_subquery()
    earned = Purchase.points_earned - Purchase.points_reversed
    bought = select(func.coalesce(func.sum(earned), 0)).where(*purchases).scalar_subquery()
    done = (
        select(func.coalesce(func.sum(LedgerEntry.points), 0))
        .where(
            LedgerEntry.member_id == member_id,
            LedgerEntry.source_type == "event",
            LedgerEntry.kind.in_(("earn", "bonus")),
            LedgerEntry.occurred_at >= start,
            LedgerEntry.occurred_at <= end,
        )
        .scalar_subquery()
    )
    return bought + done


def _bound(qualify_on: str, suffix: str) -> ColumnElement[Any]:
    """`_counted_between` with `member` and the window's `start{suffix}`, `end{suffix}` bound."""
    start: BindParameter[datetime] = bindparam(f"start{suffix}")
    end: BindParameter[datetime] = bindparam(f"end{suffix}")
    return _counted_between(qualify_on, bindparam("member"), start, end)


# Built once per way of qualifying: the tier shows on every home screen.
@cache
def _current(qualify_on: str) -> Select[tuple[Any]]:
    return select(_bound(qualify_on, ""))


@cache
def _current_and_ended(qualify_on: str) -> Select[tuple[Any, Any]]:
    return select(_bound(qualify_on, ""), _bound(qualify_on, "_ended"))


def _window_at(file: ProgrammeFile, now: datetime, suffix: str = "") -> dict[str, datetime]:
    """The bound window containing `now`: from its start up to `now`."""
    assert file.tiers is not None
    start, _ = window(file.tiers, now, file)
    return {f"start{suffix}": start, f"end{suffix}": now}


def _points(file: ProgrammeFile, value: Any) -> int:
    assert file.tiers is not None
    if file.tiers.qualify_on == "spend":
        return int(Decimal(value or 0).to_integral_value(ROUND_FLOOR))
    return max(int(value or 0), 0)


def _windows(file: ProgrammeFile, now: datetime) -> list[datetime]:
    """The instants whose windows decide the tier at `now`: now, and the end of the period
    just ended when it still counts (`deserved`)."""
    assert file.tiers is not None
    ended = previous_window_end(file.tiers, now, file)
    return [now] if ended is None else [now, ended]


def bounds(file: ProgrammeFile, now: datetime) -> list[tuple[datetime, datetime]]:
    """The windows `deserved` counts at `now` (start, end); none when qualification is not
    counted in a window (no tiers, or on the balance)."""
    if file.tiers is None or file.tiers.qualify_on == "balance":
        return []
    return [(window(file.tiers, at, file)[0], at) for at in _windows(file, now)]


def columns(
    member_id: Any, file: ProgrammeFile, windows: list[tuple[Any, Any]]
) -> list[ColumnElement[Any]]:
    """What `deserved` reads in `windows` (`bounds`, or bound parameters standing for them),
    as scalar subqueries for a statement sent anyway (a purchase's read after its account
    lock, `loyalty.points.purchase_context`)."""
    if not windows:
        return []
    assert file.tiers is not None
    qualify_on = file.tiers.qualify_on
    return [_counted_between(qualify_on, member_id, start, end) for start, end in windows]


@dataclass
class _Counts:
    """What counted in each window (`columns`) for one member at one instant, counted forward
    with the purchases the transaction adds (`count`)."""

    member_id: int
    at: datetime
    spend: bool
    windows: list[tuple[datetime, datetime]]
    values: list[Any]


# Where a session keeps the counts: (the transaction they were read in, the counts).
_KNOWN = "trouw.tier_counts"
# Set on a purchase the counts include, so flushing it does not make them unknown.
_COUNTED = "_trouw_tier_counted"
_MOVING = ("member_id", "occurred_at", "points_earned", "points_reversed")
_MOVING_SPEND = ("eligible_total", "returned_eligible")


def keep(s: Any, member_id: int, file: ProgrammeFile, now: datetime, values: list[Any]) -> None:
    """Remember what `columns` read for `bounds(file, now)` (in the transaction that holds
    the member's lock)."""
    assert file.tiers is not None
    spend = file.tiers.qualify_on == "spend"
    counts = _Counts(member_id, now, spend, bounds(file, now), list(values))
    s.info[_KNOWN] = (s.sync_session.get_transaction(), counts)


def _known(s: Any, member_id: int, now: datetime) -> _Counts | None:
    kept = s.info.get(_KNOWN)
    if kept is None or kept[0] is not s.sync_session.get_transaction():
        return None
    counts: _Counts = kept[1]
    return counts if counts.member_id == member_id and counts.at == now else None


def count(s: Any, purchase: Purchase, now: datetime) -> None:
    """A new purchase of the member (its points or spend final), added to the counts if they
    are known for `now`."""
    counts = _known(s, purchase.member_id, now)
    if counts is None:
        return
    if counts.spend:
        added: Any = purchase.eligible_total - purchase.returned_eligible
    else:
        added = purchase.points_earned - purchase.points_reversed
    for i, (start, end) in enumerate(counts.windows):
        if start <= purchase.occurred_at <= end:
            counts.values[i] = (counts.values[i] or 0) + added
    setattr(purchase, _COUNTED, True)


def _changes(s: Session) -> bool:
    """Whether a flush of `s` changes what the counts counted."""
    for o in s.new:
        if isinstance(o, Purchase) and not getattr(o, _COUNTED, False):
            return True
        if isinstance(o, LedgerEntry) and o.source_type == "event":
            return True
    for o in s.dirty:
        if isinstance(o, Purchase | LedgerEntry):
            state: InstanceState[Any] = inspect(o)
            names = (*_MOVING, *_MOVING_SPEND) if isinstance(o, Purchase) else ("points",)
            if any(state.attrs[n].history.has_changes() for n in names if n in state.attrs):
                return True
    return any(isinstance(o, Purchase | LedgerEntry) for o in s.deleted)


@event.listens_for(Session, "before_flush")
def _forget_on_change(session: Session, _context: Any, _instances: Any) -> None:
    if _KNOWN in session.info and _changes(session):
        session.info.pop(_KNOWN, None)


async def qualifying(s: AsyncSession, member_id: int, file: ProgrammeFile, now: datetime) -> int:
    """Points (or whole currency units spent) counting toward the tier in the window
    containing `now`."""
    assert file.tiers is not None
    if file.tiers.qualify_on == "balance":
        # The points the member could spend now, whatever the window.
        return max((await balance(s, member_id, now)).available, 0)
    given = {"member": member_id, **_window_at(file, now)}
    return _points(file, await direct.scalar(s, _current(file.tiers.qualify_on), given))


async def deserved(s: AsyncSession, member_id: int, file: ProgrammeFile, now: datetime) -> int:
    """What decides the member's tier at `now`: the current window's qualification, or the
    period just ended's when higher (a recalculation gives the tier it earned for this one,
    whether a late purchase of that period arrived before or after it ran). One query."""
    assert file.tiers is not None
    counts = _known(s, member_id, now)
    if counts is not None:
        return max(_points(file, value) for value in counts.values)
    ended = previous_window_end(file.tiers, now, file)
    if ended is None or file.tiers.qualify_on == "balance":
        return await qualifying(s, member_id, file, now)
    given = {"member": member_id, **_window_at(file, now), **_window_at(file, ended, "_ended")}
    row = await direct.first(s, _current_and_ended(file.tiers.qualify_on), given)
    return max(_points(file, row[0]), _points(file, row[1]))


def qualified_level(spec: TiersSpec, points: int) -> TierLevel:
    return [level for level in spec.levels if level.threshold <= points][-1]
