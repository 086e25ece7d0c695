"""When points become available and when they expire, in programme time."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loyalty.programme.spec import ExpirySpec, PointsSpec

# `available_at` of points pending until an event (`points.pending_until_event`): later than
# any real instant, so they count as pending until the event sets the real one.
AWAITING_EVENT = datetime(9999, 12, 31, tzinfo=UTC)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) at which `day` begins in `zone`."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, clamped to that month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _round_up(day: date, to: str) -> date:
    """The last day of the week (Sunday), month, quarter, half-year or year `day` is in."""
    if to == "week":
        return day + timedelta(days=6 - day.weekday())
    months = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}.get(to)
    if months is None:
        return day
    last_month = (day.month - 1) // months * months + months
    return date(day.year, last_month, calendar.monthrange(day.year, last_month)[1])


def _last_day(spec: ExpirySpec, local: date) -> date | None:
    """The last local day on which points earned on `local` can still be spent."""
    if spec.method == "never":
        return None
    if spec.method == "after_days":
        return local + timedelta(days=spec.days)
    if spec.method == "after_months":
        return add_months(local, spec.months)
    if spec.method == "end_of_day":
        return local
    if spec.method == "end_of_month":
        return add_months(local.replace(day=1), spec.months + 1) - timedelta(days=1)
    return date(local.year + spec.years, 12, 31)


def expiry_of(spec: ExpirySpec, earned_at: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant points earned at `earned_at` expire: the first instant they are gone (the
    start of the day after their last day, rounded up as the programme says)."""
    last = _last_day(spec, earned_at.astimezone(zone).date())
    if last is None:
        return None
    return local_midnight(_round_up(last, spec.round_up_to) + timedelta(days=1), zone)


def lot_expiry(
    points: PointsSpec, earned_at: datetime, available_at: datetime, zone: ZoneInfo
) -> datetime | None:
    """When a lot expires: counted from earning, or from when it becomes available (None
    while that waits for an event; the event sets it)."""
    if points.expiry.counted_from == "available":
        if available_at == AWAITING_EVENT:
            return None
        return expiry_of(points.expiry, max(available_at, earned_at), zone)
    return expiry_of(points.expiry, earned_at, zone)


def available_from(pending_days: int, earned_at: datetime, zone: ZoneInfo) -> datetime:
    """Pending points become spendable `pending_days` later at the same wall-clock time."""
    if pending_days == 0:
        return earned_at
    local = earned_at.astimezone(zone)
    return (
        (local.replace(tzinfo=None) + timedelta(days=pending_days))
        .replace(tzinfo=zone)
        .astimezone(UTC)
    )


def purchase_available_at(points: PointsSpec, earned_at: datetime, zone: ZoneInfo) -> datetime:
    """When a purchase's points become spendable: after the pending days, or not before the
    event the programme waits for (`AWAITING_EVENT` until it comes)."""
    if points.pending_until_event:
        return AWAITING_EVENT
    return available_from(points.pending_days, earned_at, zone)
