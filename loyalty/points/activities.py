"""Activities: things a member did that event rules may reward (writing a review, a birthday,
signing up), each recorded once by its external id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError
from loyalty.core.events import ActivityRecorded
from loyalty.core.identifiers import client_key
from loyalty.core.outbox import emit
from loyalty.members.models import Member
from loyalty.points import caps, earning, ledger, pending
from loyalty.points.balances import balance_events
from loyalty.points.errors import PointsError
from loyalty.points.models import LedgerEntry, MemberEvent, PointAccount
from loyalty.points.refs import MemberRef, conflict, require_active, resolve_member, when
from loyalty.points.timeline import expiry_of
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.storage.numbering import flush_many

MAX_NAME_LENGTH = 63


@dataclass(frozen=True)
class EventInput:
    member: MemberRef
    external_id: str
    name: str
    occurred_at: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventResult:
    member_id: int
    points_awarded: int
    replayed: bool


@dataclass(frozen=True)
class Activity:
    """Something a member did that earning rules may reward, as recorded once."""

    external_id: str
    name: str
    at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


async def record_activity(
    s: AsyncSession,
    member: Member,
    account: PointAccount,
    activity: Activity,
    now: datetime,
    actor: str | None,
) -> MemberEvent:
    """Record the activity and credit what the event rules award for it, in the caller's
    transaction (the member's account already locked, the external id not yet used)."""
    (event,) = await record_activities(s, [(member, account, activity)], now, actor)
    return event


async def record_activities(
    s: AsyncSession,
    recorded: Sequence[tuple[Member, PointAccount, Activity]],
    now: datetime,
    actor: str | None,
) -> list[MemberEvent]:
    """`record_activity` for many members (an import): one flush for the activities, and
    no query at all for awards when no event rule names the activity."""
    file = await current_file(s)
    events: list[MemberEvent] = []
    awarded: list[list[earning.Award]] = []
    for member, _account, activity in recorded:
        require_active(member)
        await pending.release_for_event(
            s, member.id, activity.name, activity.at, activity.properties, file
        )
        awards = await _awards(s, member.id, file, activity)
        event = MemberEvent(
            member_id=member.id,
            external_id=activity.external_id,
            name=activity.name,
            occurred_at=activity.at,
            recorded_at=now,
            properties=activity.properties,
            points_awarded=sum(a.points for a in awards),
        )
        s.add(event)
        events.append(event)
        awarded.append(awards)
    await flush_many(s)
    credited: dict[int, list[LedgerEntry]] = {}
    for (member, account, _), event, awards in zip(recorded, events, awarded, strict=True):
        if awards:
            entries = await _credit(s, account, event, awards, file, now, actor)
            credited.setdefault(member.id, []).extend(entries)
    if credited:
        await balance_events(s, credited, now)
    for (member, _, activity), event in zip(recorded, events, strict=True):
        done = ActivityRecorded(
            member_id=member.id,
            activity=activity.name,
            external_id=activity.external_id,
            points_awarded=event.points_awarded,
            occurred_at=activity.at,
        )
        emit(s, done, now)
    return events


async def _awards(
    s: AsyncSession, member_id: int, file: ProgrammeFile, activity: Activity
) -> list[earning.Award]:
    """What the event rules award for the activity, within their caps and limits."""
    name, at = activity.name, activity.at
    if not any(rule.kind == "event" and rule.event == name for rule in file.earning.rules):
        return []  # no rule for it: nothing to look up
    ctx = await caps.context(s, member_id, file, at)
    keys = earning.cap_keys(file.earning, name)
    return earning.event_awards(
        file.earning,
        name,
        ctx,
        await caps.used(s, member_id, keys, at, file),
        await caps.used(s, member_id, keys, at, file, count=True),
    )


async def _credit(
    s: AsyncSession,
    account: PointAccount,
    event: MemberEvent,
    awards: list[earning.Award],
    file: ProgrammeFile,
    now: datetime,
    actor: str | None,
) -> list[LedgerEntry]:
    """One bonus entry per award, spendable at once."""
    at = event.occurred_at
    expires_at = expiry_of(file.points.expiry, at, file.programme.zone)
    return [
        await ledger.credit(
            s,
            account,
            "bonus",
            award.points,
            occurred_at=at,
            now=now,
            available_at=at,
            expires_at=expires_at,
            meta=ledger.EntryMeta(
                award.description,
                source_type="event",
                source_id=event.id,
                rule=award.rule,
                actor=actor,
            ),
        )
        for award in awards
    ]


async def record_event(
    db: Database, data: EventInput, now: datetime, actor: str | None
) -> EventResult:
    """An activity a till or back office reports; a retry returns the first result."""
    try:
        return await _record_event(db, data, now, actor)
    except IntegrityError:
        # The same externalId arrived at the same moment for another member.
        raise conflict("externalId", "another event") from None


async def _record_event(
    db: Database, data: EventInput, now: datetime, actor: str | None
) -> EventResult:
    external_id = client_key(data.external_id, "externalId", PointsError.INVALID_EXTERNAL_ID)
    name = data.name.strip().lower()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise DomainError(
            PointsError.INVALID_EVENT,
            f"An event name of 1-{MAX_NAME_LENGTH} characters is needed",
            "name",
        )
    at = when(data.occurred_at, now)
    async with db.unit_of_work() as uow:
        s = uow.session
        member = await resolve_member(s, data.member)
        account = await ledger.lock_account(s, member.id, now)
        existing = await s.scalar(select(MemberEvent).where(MemberEvent.external_id == external_id))
        if existing is not None:
            if existing.member_id != member.id:
                raise conflict("externalId", "another member")
            return EventResult(member.id, existing.points_awarded, replayed=True)
        activity = Activity(external_id, name, at, data.properties)
        event = await record_activity(s, member, account, activity, now, actor)
        await uow.commit()
    return EventResult(member.id, event.points_awarded, replayed=False)


async def members_by_activity(s: AsyncSession, external_ids: Sequence[str]) -> dict[str, int]:
    """The member of each activity's external id that was recorded (one query)."""
    if not external_ids:
        return {}
    rows = await s.execute(
        select(MemberEvent.external_id, MemberEvent.member_id).where(
            MemberEvent.external_id.in_(external_ids)
        )
    )
    return {external_id: member_id for external_id, member_id in rows}


async def members_with_activity(s: AsyncSession, name: str, member_ids: Sequence[int]) -> set[int]:
    """Which of the members have an activity of this name recorded (one query)."""
    if not member_ids:
        return set()
    rows = await s.scalars(
        select(MemberEvent.member_id)
        .where(MemberEvent.name == name, MemberEvent.member_id.in_(member_ids))
        .distinct()
    )
    return set(rows)
