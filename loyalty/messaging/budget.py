"""The one contact budget and its verdict for one message about to be sent: consent, quiet
hours and the per-day and per-week caps, in the member's time zone, under the member's
contact lock; and the log of every message meant for a member, sent or not (with the reason).

The budget in force (`budget_in_force`) is the programme file's `campaigns.contact` when the
file states it, else the one the composition root installed from the settings
(TROUW_QUIET_HOURS_*, TROUW_MARKETING_DAILY_CAP, TROUW_MARKETING_PUSH_CAP), else the
defaults. Campaign messages, the notification worker's marketing pushes and surveys asked all
ask it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.members.service import consents_for
from loyalty.messaging.contacts import Contact, contact_times
from loyalty.messaging.models import ContactLog

if TYPE_CHECKING:
    from loyalty.members.models import Member
    from loyalty.programme.campaigns_spec import ContactRules

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
_FALLBACK = "contact_budget"  # its name in `Database.info`


@dataclass(frozen=True)
class Budget:
    """At most `per_day` and `per_week` marketing contacts per member (None: no such cap),
    none in quiet hours (`quiet`: start and end, local time; None: no quiet hours)."""

    per_day: int | None = 1
    per_week: int | None = 3
    quiet: tuple[time, time] | None = (time(21, 0), time(8, 0))


def install_fallback(info: dict[str, Any], budget: Budget) -> None:
    """The budget for programmes whose file does not state `campaigns.contact` (from the
    settings; `Database.info`, so every session of the database sees it)."""
    info[_FALLBACK] = budget


def budget_in_force(s: AsyncSession, rules: ContactRules | None) -> Budget:
    """The programme file's contact rules when it states them, else the installed fallback,
    else the defaults."""
    if rules is not None:
        quiet = (rules.quiet_hours.start, rules.quiet_hours.end) if rules.quiet_hours else None
        return Budget(rules.per_day, rules.per_week, quiet)
    shared = s.info.get("database")
    found = shared.get(_FALLBACK) if isinstance(shared, dict) else None
    return found if isinstance(found, Budget) else Budget()


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


def cap_reason(
    budget: Budget, had: Mapping[Contact, datetime], now: datetime, zone: ZoneInfo
) -> str | None:
    """WEEKLY_CAP or DAILY_CAP when one more marketing contact would break the budget, given
    the contacts the member had (`contact_times`, since the start of their week at least)."""
    day, week = day_and_week_start(now, zone)
    if budget.per_week is not None and sum(at >= week for at in had.values()) >= budget.per_week:
        return WEEKLY_CAP
    if budget.per_day is not None and sum(at >= day for at in had.values()) >= budget.per_day:
        return DAILY_CAP
    return None


def window_start(now: datetime, zone: ZoneInfo) -> datetime:
    """From when contacts count for `cap_reason`: the earlier of the local day and week."""
    return min(day_and_week_start(now, zone))


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
    had = (await contact_times(s, [member.id], window_start(now, local)))[member.id]
    return Verdict(cap_reason(budget, had, now, local))


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
