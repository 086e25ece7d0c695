"""When points become available and when they expire, in programme time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loyalty.programme.spec import ExpirySpec


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) at which `day` begins in `zone`."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def expiry_of(spec: ExpirySpec, earned_at: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant points earned at `earned_at` expire: the first instant they are gone."""
    local = earned_at.astimezone(zone).date()
    if spec.method == "never":
        return None
    if spec.method == "after_days":
        # Gone at the end of the Nth day after earning: the start of the day after it.
        return local_midnight(local + timedelta(days=spec.days + 1), zone)
    if spec.method == "end_of_month":
        months = local.year * 12 + local.month - 1 + spec.months + 1
        return local_midnight(date(months // 12, months % 12 + 1, 1), zone)
    return local_midnight(date(local.year + spec.years + 1, 1, 1), zone)


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
