"""Claiming due deliveries: a short transaction leases a batch to one worker.

Due deliveries (pending, `next_attempt_at` <= now) are locked (`FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite has one writer) and leased: `next_attempt_at` moves to now + lease and a
fresh lease token is set, so no other worker takes them until the lease runs out. Those that
policy settles without sending (`Courier.verdict`) are settled in the same transaction.

Marketing pushes spend the one contact budget: the claiming transaction takes the contact
lock of each member it pushes marketing to (in member order), counts their contacts, and
writes each new contact it claims to the contact log at once, so that a campaign or survey
deciding at the same moment sees it; a push not sent for consent or a cap is logged with the
reason.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.events import Event, Recorded, UnknownEvent
from loyalty.core.models import OutboxEvent
from loyalty.core.outbox import recorded
from loyalty.members.service import members_by_ids
from loyalty.messaging.budget import (
    DAILY_CAP,
    NO_CONSENT,
    WEEKLY_CAP,
    Budget,
    budget_in_force,
    lock_contacts,
    log_contact,
    zone_of,
)
from loyalty.messaging.contacts import Contact, contact_times, push_contact
from loyalty.messaging.models import Device, NotificationDelivery
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from notifications import policy
from notifications.channels.base import Delivery
from notifications.config import NotificationConfig
from notifications.worker.delivery import Checks, Claim, Courier, settle

log = logging.getLogger("trouw.worker")
# Reasons a push is not sent that the contact log records.
_LOGGED = frozenset({NO_CONSENT, DAILY_CAP, WEEKLY_CAP})


@dataclass(frozen=True)
class _Batch:
    """What leasing a batch of delivery rows reads besides the rows."""

    # By outbox id; None for an event this version of Trouw cannot read.
    events: dict[int, Recorded[Event] | None]
    phones: dict[int, Device]
    checks: Checks


class Leaser:
    def __init__(
        self, db: Database, clock: Clock, config: NotificationConfig, courier: Courier
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.courier = courier

    async def claim(self) -> tuple[list[Claim], int]:
        """Lease one batch of due deliveries. Returns the claims to send and how many
        deliveries policy settled without sending."""
        now = self.clock.now()
        due = (
            NotificationDelivery.status == "pending",
            NotificationDelivery.next_attempt_at <= now,
        )
        async with self.db.unit_of_work(write=False) as uow:
            waiting = await uow.session.scalar(select(NotificationDelivery.id).where(*due).limit(1))
        if waiting is None:
            return [], 0
        async with self.db.unit_of_work() as uow:
            s = uow.session
            now = self.clock.now()
            rows = list(
                await s.scalars(
                    select(NotificationDelivery)
                    .where(*due)
                    .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
                    .limit(self.config.batch_size)
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                return [], 0
            claims, decided = await self._lease(s, rows, now)
            await uow.commit()
        return claims, decided

    async def _lease(
        self, s: AsyncSession, rows: list[NotificationDelivery], now: datetime
    ) -> tuple[list[Claim], int]:
        batch = await self._read(s, rows, now)
        token = secrets.token_hex(16)
        claims: list[Claim] = []
        decided = 0
        refused: set[tuple[int, int]] = set()
        for row in rows:
            device = batch.phones.get(int(row.target)) if row.target.isdigit() else None
            outcome = self._before_sending(row, batch, device)
            if outcome is not None:
                settle(row, outcome, now)
                decided += 1
                if outcome.status == "failed" and outcome.detail in _LOGGED:
                    _log_refusal(s, row, outcome.detail, refused, now)
                continue
            event = batch.events[row.event_id]
            assert event is not None
            if row.channel == "push" and row.kind == "marketing" and row.member_id is not None:
                _spend(s, batch.checks.had.setdefault(row.member_id, {}), row, now)
            claims.append(self._take(row, event, device, token, now))
        await s.flush()
        return claims, decided

    def _before_sending(
        self, row: NotificationDelivery, batch: _Batch, device: Device | None
    ) -> Delivery | None:
        if row.event_id not in batch.events:
            return Delivery.failed("event_missing")
        event = batch.events[row.event_id]
        if event is None:
            # Written by a newer Trouw: left for a worker that reads it, without an attempt.
            return Delivery.deferred(batch.checks.now + self.config.lease, "event_unreadable")
        return self.courier.verdict(row, event, device, batch.checks)

    def _take(
        self,
        row: NotificationDelivery,
        event: Recorded[Event],
        device: Device | None,
        token: str,
        now: datetime,
    ) -> Claim:
        row.attempts += 1
        row.next_attempt_at = now + self.config.lease
        row.lease_token = token
        return Claim(
            id=row.id,
            lease_token=token,
            channel=row.channel,
            target=row.target,
            member_id=row.member_id,
            kind=row.kind,
            attempts=row.attempts,
            message=row.message,
            event=event,
            device_id=device.id if device else None,
            device_token=device.token if device else None,
            platform=device.platform if device else None,
        )

    async def _read(
        self, s: AsyncSession, rows: list[NotificationDelivery], now: datetime
    ) -> _Batch:
        events = await _events(s, {r.event_id for r in rows})
        pushes = [r for r in rows if r.channel == "push"]
        device_ids = [int(r.target) for r in pushes if r.target.isdigit()]
        phones: dict[int, Device] = {}
        if device_ids:
            found = await s.scalars(select(Device).where(Device.id.in_(device_ids)))
            phones = {d.id: d for d in found}
        push_members = sorted({r.member_id for r in pushes if r.member_id is not None})
        consents = await policy.granted(s, push_members, [policy.PUSH_CONSENT])
        marketing = sorted(
            {r.member_id for r in pushes if r.kind == "marketing" and r.member_id is not None}
        )
        had: dict[int, dict[Contact, datetime]] = {}
        zones: dict[int, ZoneInfo] = {}
        budget = Budget()
        if marketing:
            file = await current_file(s)
            budget = budget_in_force(s, file.campaigns.contact)
            for member_id in marketing:  # in member order: no two workers wait on each other
                await lock_contacts(s, member_id)
            people = await members_by_ids(s, marketing)
            zones = {m.id: zone_of(m, file.programme.zone) for m in people}
            # A week and a day back covers the start of each member's local week.
            had = await contact_times(s, marketing, now - timedelta(days=8))
        return _Batch(events, phones, Checks(consents, had, zones, budget, now))


async def _events(s: AsyncSession, ids: set[int]) -> dict[int, Recorded[Event] | None]:
    found: dict[int, Recorded[Event] | None] = {}
    for row in await s.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids))):
        try:
            found[row.id] = recorded(row)
        except UnknownEvent as exc:
            log.warning("outbox event %s cannot be read here: %s", row.id, exc)
            found[row.id] = None
    return found


def _spend(
    s: AsyncSession, had: dict[Contact, datetime], row: NotificationDelivery, now: datetime
) -> None:
    """A marketing push claimed: a contact, logged now unless already counted (another phone
    of the member, or the campaign that sent the message), so the next sender sees it."""
    contact = push_contact(row.event_id)
    if contact in had:
        return
    had[contact] = now
    assert row.member_id is not None
    log_contact(
        s,
        row.member_id,
        sender="notifications",
        channel="push",
        ref=f"event:{row.event_id}",
        reason=None,
        transactional=False,
        now=now,
        event_id=row.event_id,
    )


def _log_refusal(
    s: AsyncSession,
    row: NotificationDelivery,
    reason: str,
    refused: set[tuple[int, int]],
    now: datetime,
) -> None:
    """A push not sent for consent or the budget, logged once per member and event."""
    if row.member_id is None or (row.member_id, row.event_id) in refused:
        return
    refused.add((row.member_id, row.event_id))
    log_contact(
        s,
        row.member_id,
        sender="notifications",
        channel="push",
        ref=f"event:{row.event_id}",
        reason=reason,
        transactional=row.kind != "marketing",
        now=now,
        event_id=row.event_id,
    )
