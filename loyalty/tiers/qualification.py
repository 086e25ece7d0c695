"""What a member qualifies with: the window, in calendar days of the programme's time zone,
and the points or spend counted in it.

Points count by the purchase they came from: what the purchase earned less everything its
returns undid (waived claw-backs included), in the window of the purchase's own date, so a
return or a late upload changes the period the purchase belongs to, not the current one.
Points from events count on the event's date. Qualifying on the balance counts the points
the member could spend at that instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


def _counted(qualify_on: str, suffix: str) -> ColumnElement[Any]:
    """What counts in a window, as one SQL expression (spend or points), with `member` and
    the window's `start{suffix}` and `end{suffix}` bound."""
    member: BindParameter[int] = bindparam("member")
    start: BindParameter[datetime] = bindparam(f"start{suffix}")
    end: BindParameter[datetime] = bindparam(f"end{suffix}")
    purchases = (
        Purchase.member_id == member,
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
            LedgerEntry.member_id == member,
            LedgerEntry.source_type == "event",
            LedgerEntry.kind.in_(("earn", "bonus")),
            LedgerEntry.occurred_at >= start,
            LedgerEntry.occurred_at <= end,
        )
        .scalar_subquery()
    )
    return bought + done


# Built once per way of qualifying: the tier shows on every home screen.
@cache
def _current(qualify_on: str) -> Select[tuple[Any]]:
    return select(_counted(qualify_on, ""))


@cache
def _current_and_ended(qualify_on: str) -> Select[tuple[Any, Any]]:
    return select(_counted(qualify_on, ""), _counted(qualify_on, "_ended"))


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
    ended = previous_window_end(file.tiers, now, file)
    if ended is None or file.tiers.qualify_on == "balance":
        return await qualifying(s, member_id, file, now)
    given = {"member": member_id, **_window_at(file, now), **_window_at(file, ended, "_ended")}
    row = await direct.first(s, _current_and_ended(file.tiers.qualify_on), given)
    return max(_points(file, row[0]), _points(file, row[1]))


def qualified_level(spec: TiersSpec, points: int) -> TierLevel:
    return [level for level in spec.levels if level.threshold <= points][-1]
