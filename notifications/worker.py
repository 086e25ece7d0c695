"""The notification worker (`trouw worker`): outbox events out to pushes, webhooks and inboxes.

Two steps, each safe to run in any number of processes at once:

1. Fan-out (dispatch). Each outbox event not dispatched yet, in id order, becomes delivery
   rows: one per subscribed webhook endpoint, one per device of the member for topics that
   warrant a push (with the member's consent), and the inbox message itself (written at once,
   recorded as a delivered "inbox" delivery). A row in `outbox_dispatch` marks the event done,
   in the same transaction; unique constraints make a repeated fan-out create nothing twice.
   On PostgreSQL one process fans out at a time (an advisory lock); others skip to step 2.
2. Delivery. Due deliveries (pending, `next_attempt_at` <= now) are claimed in a short
   transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer) that leases
   them: `next_attempt_at` moves to now + lease and a fresh lease token is set. They are sent
   outside any transaction, and the outcome is written only if the lease token still matches.
   A worker that dies mid-delivery leaves the lease to run out; the next claim sends again.
   Delivery is therefore at least once, and every duplicate carries the same event id.

Retries back off exponentially with jitter (base·2^(n-1), capped); after the last attempt
the delivery is dead (kept for an operator: `requeue_dead`). Consent, quiet hours and contact
pressure are checked again when a push is due (see `notifications.policy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.models import OutboxEvent, WorkerCursor
from loyalty.members import service as members
from loyalty.members.models import Member
from loyalty.messaging import devices, inbox
from loyalty.messaging.models import Device, NotificationDelivery, OutboxDispatch
from loyalty.points.models import LedgerEntry
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.storage.locks import try_exclusive
from notifications import policy, webhooks
from notifications.channels import (
    Delivery,
    EventFacts,
    PushMessage,
    PushSender,
    language_of,
    push_data,
    text_for,
)
from notifications.config import NotificationConfig

log = logging.getLogger("trouw.worker")

# Any constant works; it only has to be the same in every process (the relay uses ...0001).
DISPATCH_LOCK_KEY = 0x7472_6F75_7700_0002
DISPATCH_CURSOR = "dispatch"
# No transaction that writes outbox events stays open this long. An event id is final (its
# transaction committed or rolled back) once an event with a higher id was seen this long ago.
CURSOR_SAFETY = timedelta(minutes=10)


@dataclass(frozen=True)
class Claim:
    """A leased delivery, with what sending it needs (read in the claiming transaction)."""

    id: int
    lease_token: str
    channel: str
    target: str
    member_id: int | None
    kind: str
    attempts: int  # including this one
    message: Mapping[str, Any] | None
    event: webhooks.WebhookEvent
    device_id: int | None = None
    device_token: str | None = None
    platform: str | None = None


def _insert(s: AsyncSession) -> Any:
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


def _event_of(row: OutboxEvent) -> webhooks.WebhookEvent:
    return webhooks.WebhookEvent(
        id=row.id,
        topic=row.topic,
        occurred_at=row.occurred_at,
        member_id=row.member_id,
        payload=row.payload,
    )


class Worker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: NotificationConfig,
        push_senders: Mapping[str, PushSender] | None = None,
        http: httpx.AsyncClient | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.push_senders = dict(push_senders or {})
        self._http = http
        self._owns_http = http is None
        self._rng = rng or random.Random()
        self._endpoints = {e.url: e for e in config.webhooks}

    # -- running -----------------------------------------------------------------------

    async def run_once(self) -> int:
        """Fan out one batch of events and deliver one batch of due deliveries. Returns how
        much was done (events dispatched + deliveries handled); 0 means idle."""
        dispatched = await self.dispatch()
        claims, decided = await self._claim()
        await self.deliver(claims)
        return dispatched + len(claims) + decided

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Work until `stop` is set; poll every `interval` seconds when idle. Errors (e.g. the
        database going away) are logged and the loop carries on."""
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("notification worker round failed")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.config.webhook_timeout)
        return self._http

    # -- fan-out -------------------------------------------------------------------------

    @staticmethod
    def _undispatched(position: int) -> Any:
        return select(OutboxEvent).where(
            OutboxEvent.id > position,
            ~exists().where(OutboxDispatch.event_id == OutboxEvent.id),
        )

    @staticmethod
    async def _cursor(s: AsyncSession) -> int:
        position = await s.scalar(
            select(WorkerCursor.position).where(WorkerCursor.name == DISPATCH_CURSOR)
        )
        return int(position or 0)

    async def dispatch(self) -> int:
        """Plan the deliveries of one batch of undispatched events. Returns the events done."""
        async with self.db.unit_of_work(write=False) as uow:
            position = await self._cursor(uow.session)
            waiting = await uow.session.scalar(
                self._undispatched(position).with_only_columns(OutboxEvent.id).limit(1)
            )
        if waiting is None:
            return 0
        async with self.db.unit_of_work() as uow:
            s = uow.session
            if not await try_exclusive(s, DISPATCH_LOCK_KEY):
                return 0  # another process is fanning out; it will do these
            now = self.clock.now()
            position = await self._cursor(s)
            events = list(
                await s.scalars(
                    self._undispatched(position)
                    .order_by(OutboxEvent.id)
                    .limit(self.config.batch_size)
                )
            )
            if events:
                await self._fan_out(s, events, now)
            await self._advance_cursor(s, position, now)
            await uow.commit()
        return len(events)

    async def _advance_cursor(self, s: AsyncSession, position: int, now: datetime) -> None:
        """Move the cursor up to just below the oldest event not dispatched yet, but only over
        ids that are final: every id below one dispatched CURSOR_SAFETY ago."""
        final = await s.scalar(
            select(func.max(OutboxDispatch.event_id)).where(
                OutboxDispatch.event_id > position,
                OutboxDispatch.dispatched_at <= now - CURSOR_SAFETY,
            )
        )
        if final is None:
            return
        gap = await s.scalar(
            self._undispatched(position)
            .where(OutboxEvent.id <= final)
            .with_only_columns(func.min(OutboxEvent.id))
        )
        new = int(gap) - 1 if gap is not None else int(final)
        if new <= position:
            return
        statement = _insert(s)(WorkerCursor).values(
            name=DISPATCH_CURSOR, position=new, updated_at=now
        )
        await s.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"position": new, "updated_at": now},
                where=WorkerCursor.position < new,
            )
        )

    async def _fan_out(self, s: AsyncSession, events: Sequence[OutboxEvent], now: datetime) -> None:
        config = self.config
        file = await current_file(s)
        zone = file.programme.zone
        member_ids = sorted({e.member_id for e in events if e.member_id is not None})
        people: dict[int, Member] = {m.id: m for m in await members.members_by_ids(s, member_ids)}
        consents = await policy.granted(s, member_ids, [policy.PUSH_CONSENT, policy.INBOX_CONSENT])
        phones: dict[int, list[Device]] = defaultdict(list)
        if config.push_enabled and self.push_senders:
            for device in await devices.devices_of(s, member_ids):
                if device.platform in self.push_senders:
                    phones[device.member_id].append(device)
        entry_ids = [
            int(e.payload["entry_id"])
            for e in events
            if e.topic == "balance.changed" and str(e.payload.get("entry_id", "")).isdigit()
        ]
        entries: dict[int, LedgerEntry] = {}
        if entry_ids:
            rows = await s.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(entry_ids)))
            entries = {row.id: row for row in rows}

        planned: list[dict[str, Any]] = []
        messages: list[inbox.NewMessage] = []

        def plan(
            event: OutboxEvent,
            channel: str,
            target: str,
            *,
            message: dict[str, Any] | None = None,
            due: datetime = now,
            delivered: bool = False,
        ) -> None:
            planned.append(
                {
                    "event_id": event.id,
                    "channel": channel,
                    "target": target,
                    "member_id": event.member_id,
                    "kind": policy.kind_of(event.topic),
                    "message": message,
                    "status": "delivered" if delivered else "pending",
                    "attempts": 1 if delivered else 0,
                    "next_attempt_at": due,
                    "lease_token": None,
                    "last_error": None,
                    "created_at": now,
                    "delivered_at": now if delivered else None,
                }
            )

        for event in events:
            for endpoint in config.webhooks:
                if endpoint.wants(event.topic):
                    plan(event, "webhook", endpoint.url)
            member = people.get(event.member_id) if event.member_id is not None else None
            if member is None or member.status != "active":
                continue
            push = (
                bool(phones.get(member.id))
                and (member.id, policy.PUSH_CONSENT) in consents
                and policy.wants_push(event.topic, event.payload)
                and now - event.occurred_at <= config.push_ttl
            )
            in_app = (
                policy.wants_inbox(event.topic) and (member.id, policy.INBOX_CONSENT) in consents
            )
            if not (push or in_app):
                continue
            entry_key = str(event.payload.get("entry_id", ""))
            entry = entries.get(int(entry_key)) if entry_key.isdigit() else None
            words = text_for(
                event.topic,
                event.payload,
                event.occurred_at,
                self._facts(file, zone, member, entry),
            )
            if words is None:
                continue
            if push:
                due = now
                if policy.kind_of(event.topic) == "marketing":
                    due = policy.quiet_until(config.quiet_hours, now, zone) or now
                message = {
                    "title": words.title,
                    "body": words.body,
                    "data": push_data(event.id, event.topic, event.payload),
                    "collapse_key": words.collapse_key,
                }
                for device in phones[member.id]:
                    plan(event, "push", str(device.id), message=message, due=due)
            if in_app:
                messages.append(inbox.NewMessage(member.id, words.title, words.body, event.id))
                plan(event, "inbox", f"member:{member.id}", delivered=True)

        insert = _insert(s)
        if planned:
            await s.execute(
                insert(NotificationDelivery).on_conflict_do_nothing(
                    index_elements=["event_id", "channel", "target"]
                ),
                planned,
            )
        await inbox.add_messages(s, messages, now)
        await s.execute(
            insert(OutboxDispatch).on_conflict_do_nothing(index_elements=["event_id"]),
            [{"event_id": e.id, "dispatched_at": now} for e in events],
        )

    @staticmethod
    def _facts(
        file: ProgrammeFile, zone: ZoneInfo, member: Member, entry: LedgerEntry | None
    ) -> EventFacts:
        levels = file.tiers.levels if file.tiers else []
        return EventFacts(
            language=language_of(member.locale, file.programme.default_locale),
            zone=zone,
            tier_names={level.key: level.name for level in levels},
            tier_order=[level.key for level in levels],
            reward_names={r.key: r.name for r in file.rewards},
            entry_recorded_at=entry.recorded_at if entry else None,
            entry_available_at=entry.available_at if entry else None,
        )

    # -- claiming ------------------------------------------------------------------------

    async def claim(self) -> list[Claim]:
        """Lease one batch of due deliveries to this worker (those that policy settles
        without sending are settled here and not returned)."""
        claims, _ = await self._claim()
        return claims

    async def _claim(self) -> tuple[list[Claim], int]:
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
        config = self.config
        events = {
            e.id: e
            for e in await s.scalars(
                select(OutboxEvent).where(OutboxEvent.id.in_({r.event_id for r in rows}))
            )
        }
        pushes = [r for r in rows if r.channel == "push"]
        phones: dict[int, Device] = {}
        device_ids = [int(r.target) for r in pushes if r.target.isdigit()]
        if device_ids:
            phones = {
                d.id: d for d in await s.scalars(select(Device).where(Device.id.in_(device_ids)))
            }
        push_members = sorted({r.member_id for r in pushes if r.member_id is not None})
        consents = await policy.granted(s, push_members, [policy.PUSH_CONSENT])
        marketing = sorted(
            {r.member_id for r in pushes if r.kind == "marketing" and r.member_id is not None}
        )
        zone = ZoneInfo("UTC")
        sent: dict[int, set[int]] = {}
        if marketing:
            zone = (await current_file(s)).programme.zone
            if config.contact_pressure is not None:
                sent = await policy.marketing_pushes_sent(
                    s, marketing, now - config.contact_pressure.window
                )

        token = secrets.token_hex(16)
        claims: list[Claim] = []
        decided = 0
        for row in rows:
            event = events.get(row.event_id)
            device = phones.get(int(row.target)) if row.target.isdigit() else None
            verdict = (
                Delivery.failed("event_missing")
                if event is None
                else self._verdict(row, event, device, consents, sent, zone, now)
            )
            if verdict is not None:
                self._settle(row, verdict, now)
                decided += 1
                continue
            assert event is not None
            if row.channel == "push" and row.kind == "marketing" and row.member_id is not None:
                # Counted now, so a second marketing push in this batch sees it.
                sent.setdefault(row.member_id, set()).add(row.event_id)
            row.attempts += 1
            row.next_attempt_at = now + config.lease
            row.lease_token = token
            claims.append(
                Claim(
                    id=row.id,
                    lease_token=token,
                    channel=row.channel,
                    target=row.target,
                    member_id=row.member_id,
                    kind=row.kind,
                    attempts=row.attempts,
                    message=row.message,
                    event=_event_of(event),
                    device_id=device.id if device else None,
                    device_token=device.token if device else None,
                    platform=device.platform if device else None,
                )
            )
        await s.flush()
        return claims, decided

    def _verdict(
        self,
        row: NotificationDelivery,
        event: OutboxEvent,
        device: Device | None,
        consents: set[tuple[int, str]],
        sent: dict[int, set[int]],
        zone: ZoneInfo,
        now: datetime,
    ) -> Delivery | None:
        """What policy says before sending: None to send now, else the outcome to record."""
        config = self.config
        if row.attempts >= config.retry.max_attempts:
            # Every attempt so far was lost with its worker (the outcome was never recorded).
            return Delivery.dead("attempts exhausted without an answer (workers lost)")
        if row.channel == "webhook":
            return None if row.target in self._endpoints else Delivery.failed("endpoint_removed")
        if row.channel != "push":
            return Delivery.failed(f"unknown channel {row.channel}")
        if device is None:
            return Delivery.failed("device_removed")
        if device.member_id != row.member_id:
            return Delivery.failed("device_moved")
        if not config.push_enabled or device.platform not in self.push_senders:
            return Delivery.failed("push_disabled")
        if now - event.occurred_at > config.push_ttl:
            return Delivery.failed("expired")
        if (device.member_id, policy.PUSH_CONSENT) not in consents:
            return Delivery.failed("no_consent")
        if row.kind == "marketing":
            until = policy.quiet_until(config.quiet_hours, now, zone)
            if until is not None:
                return Delivery.deferred(until, "quiet_hours")
            cap = config.contact_pressure
            if cap is not None and len(sent.get(device.member_id, set()) - {row.event_id}) >= (
                cap.limit
            ):
                return Delivery.failed("contact_pressure")
        return None

    def _settle(self, row: NotificationDelivery, outcome: Delivery, now: datetime) -> None:
        """Record an outcome decided in the claiming transaction (nothing was sent)."""
        if outcome.status == "deferred":
            row.next_attempt_at = outcome.until or now
            row.last_error = outcome.detail or None
            return
        row.status = "failed" if outcome.status == "failed" else "dead"
        row.last_error = outcome.detail[:500]
        row.lease_token = None

    # -- sending and recording -----------------------------------------------------------

    async def deliver(self, claims: Sequence[Claim]) -> None:
        """Send each claimed delivery (several at a time) and record what happened."""
        if not claims:
            return
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(claim: Claim) -> None:
            async with gate:
                outcome = await self.send(claim)
                await self.record(claim, outcome)

        results = await asyncio.gather(*(one(c) for c in claims), return_exceptions=True)
        for claim, result in zip(claims, results, strict=True):
            if isinstance(result, BaseException):
                # Its lease runs out and a later claim sends it again.
                log.error("delivery %s failed unexpectedly", claim.id, exc_info=result)

    async def send(self, claim: Claim) -> Delivery:
        """One attempt over the claim's channel; never raises for what the other side does."""
        if claim.channel == "webhook":
            endpoint = self._endpoints.get(claim.target)
            if endpoint is None:
                return Delivery.failed("endpoint_removed")
            return await webhooks.post(
                self.http, endpoint, claim.event, self.clock.now(), self.config.webhook_timeout
            )
        if claim.channel == "push":
            return await self._push(claim)
        return Delivery.failed(f"unknown channel {claim.channel}")

    async def _push(self, claim: Claim) -> Delivery:
        sender = self.push_senders.get(claim.platform or "")
        if sender is None or claim.device_token is None or claim.message is None:
            return Delivery.failed("push_disabled")
        message = PushMessage(
            title=claim.message.get("title"),
            body=claim.message.get("body"),
            data={str(k): str(v) for k, v in (claim.message.get("data") or {}).items()},
            event_id=claim.event.id,
            collapse_key=claim.message.get("collapse_key"),
        )
        try:
            result = await sender.send(claim.device_token, message)
        except Exception as exc:
            log.warning("push sender %s raised", claim.platform, exc_info=True)
            return Delivery.retry(f"{exc.__class__.__name__}: {exc}"[:300])
        if result.status == "delivered":
            return Delivery.ok(result.detail)
        if result.status == "gone":
            return Delivery.failed(f"gone: {result.detail}".rstrip(": "), remove_device=True)
        if result.detail.startswith("permanent:"):
            return Delivery.dead(result.detail)
        return Delivery.retry(result.detail or "retry")

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: exponential, capped, jittered
        (between half and all of it, so retries from one outage spread out)."""
        retry = self.config.retry
        delay = min(
            retry.cap.total_seconds(), retry.base.total_seconds() * 2 ** min(attempts - 1, 40)
        )
        return timedelta(seconds=delay / 2 + self._rng.uniform(0, delay / 2))

    async def record(self, claim: Claim, outcome: Delivery) -> bool:
        """Write the outcome of an attempt, if this worker still holds the lease. Returns
        whether it did."""
        now = self.clock.now()
        values: dict[str, Any] = {"lease_token": None}
        if outcome.status == "delivered":
            values.update(status="delivered", delivered_at=now, last_error=None)
        elif outcome.status == "retry":
            if claim.attempts >= self.config.retry.max_attempts:
                values.update(status="dead", last_error=outcome.detail[:500])
            else:
                due = now + self.backoff(claim.attempts)
                if outcome.until is not None:
                    due = max(due, min(outcome.until, now + self.config.retry.cap))
                values.update(next_attempt_at=due, last_error=outcome.detail[:500])
        elif outcome.status == "deferred":
            values.update(
                next_attempt_at=outcome.until or now,
                attempts=claim.attempts - 1,
                last_error=outcome.detail or None,
            )
        else:
            values.update(status=outcome.status, last_error=outcome.detail[:500])
        async with self.db.unit_of_work() as uow:
            result = await uow.session.execute(
                update(NotificationDelivery)
                .where(
                    NotificationDelivery.id == claim.id,
                    NotificationDelivery.lease_token == claim.lease_token,
                    NotificationDelivery.status == "pending",
                )
                .values(**values)
            )
            if outcome.remove_device and claim.device_id is not None:
                await devices.remove(uow.session, claim.device_id)
            await uow.commit()
        kept = bool(getattr(result, "rowcount", 0))
        if outcome.status in ("dead", "failed") or values.get("status") == "dead":
            log.warning(
                "delivery %s (%s %s, event %s) %s: %s",
                claim.id,
                claim.channel,
                claim.target,
                claim.event.id,
                values.get("status", outcome.status),
                outcome.detail,
            )
        return kept


async def requeue_dead(db: Database, clock: Clock, ids: Sequence[int] | None = None) -> int:
    """Give dead deliveries (all, or those named) a fresh set of attempts, due now."""
    now = clock.now()
    statement = update(NotificationDelivery).where(NotificationDelivery.status == "dead")
    if ids is not None:
        statement = statement.where(NotificationDelivery.id.in_(ids))
    async with db.unit_of_work() as uow:
        result = await uow.session.execute(
            statement.values(status="pending", attempts=0, next_attempt_at=now, lease_token=None)
        )
        await uow.commit()
    return int(getattr(result, "rowcount", 0))
