"""Fan-out: each outbox event not dispatched yet, in id order, becomes delivery rows.

One row per subscribed webhook endpoint, one per device of the member for events that warrant
a push (with the member's consent), and the inbox message itself (written at once, recorded
as a delivered "inbox" delivery). A row in `outbox_dispatch` marks the event done, in the
same transaction; unique constraints make a repeated fan-out create nothing twice. On
PostgreSQL one process fans out at a time (an advisory lock); others skip it.

A cursor (`loyalty.core.cursors`) bounds the scan: every event at or below it is dispatched.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core import cursors
from loyalty.core.clock import Clock
from loyalty.core.events import BalanceChanged, Event, Recorded, UnknownEvent
from loyalty.core.models import OutboxEvent
from loyalty.core.outbox import recorded
from loyalty.core.request_ids import bound_request_id
from loyalty.members import service as members
from loyalty.members.models import Member
from loyalty.messaging import devices, inbox
from loyalty.messaging.budget import Budget, budget_in_force, quiet_until, zone_of
from loyalty.messaging.models import Device, NotificationDelivery, OutboxDispatch
from loyalty.points.models import LedgerEntry
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database, insert_for
from loyalty.storage.locks import try_exclusive
from notifications import policy
from notifications.channels.base import PushSender
from notifications.channels.texts import EventFacts, Text, language_of, push_data, text_for
from notifications.config import NotificationConfig

log = logging.getLogger("trouw.worker")

# Any constant works; it only has to be the same in every process (the relay uses ...0001).
DISPATCH_LOCK_KEY = 0x7472_6F75_7700_0002
DISPATCH_CURSOR = "dispatch"


def _undispatched(position: int) -> Select[Any]:
    return select(OutboxEvent).where(
        OutboxEvent.id > position,
        ~exists().where(OutboxDispatch.event_id == OutboxEvent.id),
    )


@dataclass(frozen=True)
class _Audience:
    """What the fan-out of one batch knows about the members its events are about."""

    file: ProgrammeFile
    people: dict[int, Member]
    consents: set[tuple[int, str]]
    phones: dict[int, list[Device]]
    entries: dict[int, LedgerEntry]
    budget: Budget

    @property
    def zone(self) -> ZoneInfo:
        return self.file.programme.zone


@dataclass
class _Plan:
    """The delivery rows and inbox messages of one batch, written together."""

    now: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)
    messages: list[inbox.NewMessage] = field(default_factory=list)

    def add(
        self,
        item: Recorded[Event],
        channel: str,
        target: str,
        *,
        message: dict[str, Any] | None = None,
        due: datetime | None = None,
        delivered: bool = False,
    ) -> None:
        now = self.now
        self.rows.append(
            {
                "event_id": item.id,
                "channel": channel,
                "target": target,
                "member_id": item.event.member_id,
                "kind": policy.kind_of(item.event),
                "message": message,
                "status": "delivered" if delivered else "pending",
                "attempts": 1 if delivered else 0,
                "next_attempt_at": due or now,
                "lease_token": None,
                "last_error": None,
                "created_at": now,
                "delivered_at": now if delivered else None,
            }
        )

    async def write(self, s: AsyncSession, event_ids: Sequence[int]) -> None:
        insert = insert_for(s)
        if self.rows:
            await s.execute(
                insert(NotificationDelivery).on_conflict_do_nothing(
                    index_elements=["event_id", "channel", "target"]
                ),
                self.rows,
            )
        await inbox.add_messages(s, self.messages, self.now)
        await s.execute(
            insert(OutboxDispatch).on_conflict_do_nothing(index_elements=["event_id"]),
            [{"event_id": event_id, "dispatched_at": self.now} for event_id in event_ids],
        )


class Dispatcher:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: NotificationConfig,
        push_senders: Mapping[str, PushSender],
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.push_senders = push_senders

    async def dispatch(self) -> int:
        """Plan the deliveries of one batch of undispatched events. Returns the events done."""
        async with self.db.unit_of_work(write=False) as uow:
            position = await cursors.position_of(uow.session, DISPATCH_CURSOR)
            waiting = await uow.session.scalar(
                _undispatched(position).with_only_columns(OutboxEvent.id).limit(1)
            )
        if waiting is None:
            return 0
        async with self.db.unit_of_work() as uow:
            s = uow.session
            if not await try_exclusive(s, DISPATCH_LOCK_KEY):
                return 0  # another process is fanning out; it will do these
            now = self.clock.now()
            position = await cursors.position_of(s, DISPATCH_CURSOR)
            rows = await s.scalars(
                _undispatched(position).order_by(OutboxEvent.id).limit(self.config.batch_size)
            )
            events = _readable(rows)
            plan = await self._fan_out(s, events, now) if events else _Plan(now)
            await self._advance(s, position, now)
            await uow.commit()
        _log_dispatched(events, plan)
        return len(events)

    async def _advance(self, s: AsyncSession, position: int, now: datetime) -> None:
        """Move the cursor up to just below the oldest event not dispatched yet, but only over
        ids that are final: every id below one dispatched CURSOR_SAFETY ago."""
        final = await s.scalar(
            select(func.max(OutboxDispatch.event_id)).where(
                OutboxDispatch.event_id > position,
                OutboxDispatch.dispatched_at <= now - cursors.CURSOR_SAFETY,
            )
        )
        if final is None:
            return
        first_pending = (
            _undispatched(position)
            .where(OutboxEvent.id <= final)
            .with_only_columns(func.min(OutboxEvent.id))
        )
        await cursors.advance(s, DISPATCH_CURSOR, position, final, first_pending, now)

    async def _fan_out(
        self, s: AsyncSession, events: Sequence[Recorded[Event]], now: datetime
    ) -> _Plan:
        audience = await self._audience(s, events)
        plan = _Plan(now)
        for item in events:
            for endpoint in self.config.webhooks:
                if endpoint.wants(type(item.event)):
                    plan.add(item, "webhook", endpoint.url)
            self._plan_for_member(plan, audience, item)
        await plan.write(s, [item.id for item in events])
        return plan

    async def _audience(self, s: AsyncSession, events: Sequence[Recorded[Event]]) -> _Audience:
        member_ids = sorted({e.event.member_id for e in events if e.event.member_id is not None})
        consents = await policy.granted(s, member_ids, [policy.PUSH_CONSENT, policy.INBOX_CONSENT])
        phones: dict[int, list[Device]] = defaultdict(list)
        if self.config.push_enabled and self.push_senders:
            for device in await devices.devices_of(s, member_ids):
                if device.platform in self.push_senders:
                    phones[device.member_id].append(device)
        entry_ids = [e.event.entry_id for e in events if isinstance(e.event, BalanceChanged)]
        entries: dict[int, LedgerEntry] = {}
        if entry_ids:
            found = await s.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(entry_ids)))
            entries = {row.id: row for row in found}
        file = await current_file(s)
        return _Audience(
            file=file,
            people={m.id: m for m in await members.members_by_ids(s, member_ids)},
            consents=consents,
            phones=phones,
            entries=entries,
            budget=budget_in_force(s, file.campaigns.contact),
        )

    def _plan_for_member(self, plan: _Plan, audience: _Audience, item: Recorded[Event]) -> None:
        """The push and inbox deliveries of one event: none unless the member is active."""
        event = item.event
        member = audience.people.get(event.member_id) if event.member_id is not None else None
        if member is None or member.status != "active":
            return
        push = (
            bool(audience.phones.get(member.id))
            and (member.id, policy.PUSH_CONSENT) in audience.consents
            and policy.wants_push(event)
            and plan.now - item.occurred_at <= self.config.push_ttl
        )
        in_app = (
            policy.wants_inbox(event) and (member.id, policy.INBOX_CONSENT) in audience.consents
        )
        if not (push or in_app):
            return
        entry = audience.entries.get(event.entry_id) if isinstance(event, BalanceChanged) else None
        words = text_for(item, _facts(audience, member, entry))
        if words is None:
            return
        if push:
            self._plan_pushes(plan, audience, item, member, words)
        if in_app:
            plan.messages.append(inbox.NewMessage(member.id, words.title, words.body, item.id))
            plan.add(item, "inbox", f"member:{member.id}", delivered=True)

    def _plan_pushes(
        self, plan: _Plan, audience: _Audience, item: Recorded[Event], member: Member, words: Text
    ) -> None:
        due = plan.now
        if policy.kind_of(item.event) == "marketing":
            zone = zone_of(member, audience.zone)
            due = quiet_until(audience.budget.quiet, plan.now, zone) or plan.now
        message = {
            "title": words.title,
            "body": words.body,
            "data": push_data(item),
            "collapse_key": words.collapse_key,
        }
        for device in audience.phones[member.id]:
            plan.add(item, "push", str(device.id), message=message, due=due)


def _log_dispatched(events: Sequence[Recorded[Event]], plan: _Plan) -> None:
    """One line per event fanned out, with its deliveries by channel (inbox messages are
    delivered here; webhooks and pushes log each attempt when sent)."""
    counts = Counter((row["event_id"], row["channel"]) for row in plan.rows)
    for item in events:
        channels = {c: counts[(item.id, c)] for c in ("webhook", "push", "inbox")}
        with bound_request_id(item.request_id):
            log.info(
                "event %s (%s) dispatched: %s",
                item.id,
                item.event.name,
                ", ".join(f"{n} {c}" for c, n in channels.items()),
                extra={"event_id": item.id, "topic": item.event.name, "deliveries": channels},
            )


def _readable(rows: Iterable[OutboxEvent]) -> list[Recorded[Event]]:
    """The rows as typed events. One that this version of Trouw cannot read (written by a
    newer one, say) stays undispatched, for a worker that can."""
    found: list[Recorded[Event]] = []
    for row in rows:
        try:
            found.append(recorded(row))
        except UnknownEvent as exc:
            log.warning("outbox event %s is not dispatched here: %s", row.id, exc)
    return found


def _facts(audience: _Audience, member: Member, entry: LedgerEntry | None) -> EventFacts:
    file = audience.file
    levels = file.tiers.levels if file.tiers else []
    return EventFacts(
        language=language_of(member.locale, file.programme.default_locale),
        zone=audience.zone,
        tier_names={level.key: level.name for level in levels},
        tier_order=[level.key for level in levels],
        reward_names={r.key: r.name for r in file.rewards},
        entry_recorded_at=entry.recorded_at if entry else None,
        entry_available_at=entry.available_at if entry else None,
    )
