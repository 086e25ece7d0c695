"""The contact budget's verdict for one message about to be sent: consent, quiet hours and
the per-day and per-week caps, in the member's time zone, under the member's contact lock;
and the log of every message meant for a member, sent or not (with the reason)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.members.service import consents_for
from loyalty.messaging.contacts import contacts_since
from loyalty.messaging.models import ContactLog

if TYPE_CHECKING:
    from loyalty.members.models import Member

# Reasons a message was not sent (`contact_log.reason`).
NO_CONSENT, QUIET_HOURS, DAILY_CAP, WEEKLY_CAP = (
    "no_consent",
    "quiet_hours",
    "daily_cap",
    "weekly_cap",
)
NOT_ACTIVE, HELD_OUT = "member_not_active", "held_out"
# The consent each channel needs.
CONSENT_OF = {"inbox": "in_app", "push": "push", "pass": "push", "webhook": "email"}
_LOCK_CLASS = 0x7472  # pg_advisory_xact_lock(class, member): the member's contact lock


@dataclass(frozen=True)
class Budget:
    """At most `per_day` and `per_week` marketing contacts per member, none in quiet hours
    (`quiet`: start and end, local time; None: no quiet hours)."""

    per_day: int = 1
    per_week: int = 3
    quiet: tuple[time, time] | None = (time(21, 0), time(8, 0))


@dataclass(frozen=True)
class Verdict:
    reason: str | None  # None: send now
    until: datetime | None = None  # for quiet hours: when they end (UTC)


def quiet_until(quiet: tuple[time, time] | None, at: datetime, zone: ZoneInfo) -> datetime | None:
    """When the quiet period that `at` falls in ends (UTC), or None if `at` is not quiet."""
    if quiet is None or quiet[0] == quiet[1]:
        return None
    start, end_time = quiet
    local = at.astimezone(zone)
    now = local.time().replace(tzinfo=None)
    inside = start <= now < end_time if start < end_time else now >= start or now < end_time
    if not inside:
        return None
    end = datetime.combine(local.date(), end_time, tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), end_time, tzinfo=zone)
    return end.astimezone(UTC)


def zone_of(member: Member, default: ZoneInfo) -> ZoneInfo:
    if member.time_zone:
        try:
            return ZoneInfo(member.time_zone)
        except (ValueError, OSError):
            return default
    return default


def day_and_week_start(at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The start of `at`'s local day and (ISO, Monday) week, in UTC."""
    day = at.astimezone(zone).date()
    monday = day - timedelta(days=day.weekday())
    midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    return midnight, datetime.combine(monday, time(0), tzinfo=zone).astimezone(UTC)


async def lock_contacts(s: AsyncSession, member_id: int) -> None:
    """The member's contact lock until the transaction ends (PostgreSQL; SQLite's write
    transaction already excludes every other writer)."""
    if s.get_bind().dialect.name == "postgresql":
        await s.execute(
            text("SELECT pg_advisory_xact_lock(:c, :m)"), {"c": _LOCK_CLASS, "m": member_id % 2**31}
        )


async def verdict(
    s: AsyncSession,
    member: Member,
    channel: str,
    transactional: bool,
    budget: Budget,
    zone: ZoneInfo,
    now: datetime,
) -> Verdict:
    """Whether a message may go to the member now; call under `lock_contacts`."""
    if member.status != "active":
        return Verdict(NOT_ACTIVE)
    wanted = CONSENT_OF[channel]
    consents = await consents_for(s, [member.id])
    if not any(c.channel == wanted and c.granted for c in consents):
        return Verdict(NO_CONSENT)
    if transactional:
        return Verdict(None)
    local = zone_of(member, zone)
    until = quiet_until(budget.quiet, now, local)
    if until is not None:
        return Verdict(QUIET_HOURS, until)
    day, week = day_and_week_start(now, local)
    contacts = (await contacts_since(s, [member.id], min(day, week)))[member.id]
    if len(contacts) >= budget.per_week:
        return Verdict(WEEKLY_CAP)
    today = await contacts_since(s, [member.id], day) if day > week else {member.id: contacts}
    if len(today[member.id]) >= budget.per_day:
        return Verdict(DAILY_CAP)
    return Verdict(None)


def log_contact(
    s: AsyncSession,
    member_id: int,
    *,
    sender: str,
    channel: str,
    ref: str,
    reason: str | None,
    transactional: bool,
    now: datetime,
    event_id: int | None = None,
) -> ContactLog:
    row = ContactLog(
        member_id=member_id,
        at=now,
        sender=sender[:100],
        channel=channel,
        ref=ref[:120],
        sent=reason is None,
        transactional=transactional,
        reason=reason,
        event_id=event_id,
    )
    s.add(row)
    return row
