"""Claiming due deliveries: a short transaction leases a batch to one worker.

Due deliveries (pending, `next_attempt_at` <= now) are locked (`FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite has one writer) and leased: `next_attempt_at` moves to now + lease and a
fresh lease token is set, so no other worker takes them until the lease runs out. Those that
policy settles without sending (`Courier.verdict`) are settled in the same transaction.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.events import Event, Recorded, UnknownEvent
from loyalty.core.models import OutboxEvent
from loyalty.core.outbox import recorded
from loyalty.messaging.contacts import Contact, push_contact
from loyalty.messaging.models import Device, NotificationDelivery
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from notifications import policy
from notifications.channels.base import Delivery
from notifications.config import NotificationConfig
from notifications.worker.delivery import Checks, Claim, Courier, settle

log = logging.getLogger("trouw.worker")


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
        for row in rows:
            device = batch.phones.get(int(row.target)) if row.target.isdigit() else None
            outcome = self._before_sending(row, batch, device)
            if outcome is not None:
                settle(row, outcome, now)
                decided += 1
                continue
            event = batch.events[row.event_id]
            assert event is not None
            if row.channel == "push" and row.kind == "marketing" and row.member_id is not None:
                # Counted now, so a second marketing push in this batch sees it.
                batch.checks.sent.setdefault(row.member_id, set()).add(push_contact(row.event_id))
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
        zone = ZoneInfo("UTC")
        sent: dict[int, set[Contact]] = {}
        if marketing:
            zone = (await current_file(s)).programme.zone
            if self.config.contact_pressure is not None:
                since = now - self.config.contact_pressure.window
                sent = await policy.marketing_contacts(s, marketing, since)
        return _Batch(events, phones, Checks(consents, sent, zone, now))


async def _events(s: AsyncSession, ids: set[int]) -> dict[int, Recorded[Event] | None]:
    found: dict[int, Recorded[Event] | None] = {}
    for row in await s.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids))):
        try:
            found[row.id] = recorded(row)
        except UnknownEvent as exc:
            log.warning("outbox event %s cannot be read here: %s", row.id, exc)
            found[row.id] = None
    return found
