"""When a wait ends: after a fixed time, at the next allowed local time, or at the next
yearly return of a profile date. Local times are the member's (their time zone, else the
programme's); an instant that a DST change skipped resolves through UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loyalty.programme.campaigns_spec import WaitForDateSpec, WaitSpec, WaitUntilSpec

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def after(spec: WaitSpec, now: datetime) -> datetime:
    return now + timedelta(days=spec.days, hours=spec.hours, minutes=spec.minutes)


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def until(spec: WaitUntilSpec, now: datetime, zone: ZoneInfo) -> datetime:
    """The first `spec.time` on an allowed weekday that is not before now."""
    today = now.astimezone(zone).date()
    allowed = {WEEKDAYS.index(d) for d in spec.weekdays}
    for offset in range(8):
        day = today + timedelta(days=offset)
        when = _at(day, spec.time, zone)
        if day.weekday() in allowed and when >= now:
            return when
    raise ValueError("a wait with no weekday")  # refused when the file is loaded


def _yearly(base: date, year: int) -> date:
    try:
        return base.replace(year=year)
    except ValueError:  # 29 February in a year without one: the 28th
        return base.replace(year=year, day=28)


def next_date(spec: WaitForDateSpec, base: date, now: datetime, zone: ZoneInfo) -> datetime:
    """The next return of `base` (shifted by the offset) at `spec.at`, not before now."""
    year = now.astimezone(zone).year
    for candidate_year in (year - 1, year, year + 1, year + 2):
        day = _yearly(base, candidate_year) + timedelta(days=spec.offset_days)
        when = _at(day, spec.at, zone)
        if when >= now:
            return when
    raise ValueError("no next date")  # unreachable: a year ahead always comes
