"""Sending claimed deliveries and recording what happened.

What policy says just before sending (`Courier.verdict`, asked in the claiming transaction):
consent, quiet hours and the caps of the one contact budget (in the member's time zone), the
device still being the member's, the event still being news. Then each claim is sent over
its channel outside any transaction, and the outcome is written only if the claim's lease
token still matches: a worker whose lease ran out (and whose delivery another worker took
over) records nothing.

Retries back off exponentially with jitter (base·2^(n-1), capped); after the last attempt
the delivery is dead.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import update

from loyalty.core.clock import Clock
from loyalty.core.events import Event, Recorded
from loyalty.core.request_ids import bound_request_id
from loyalty.messaging import devices
from loyalty.messaging.budget import QUIET_HOURS, Budget, cap_reason, quiet_until
from loyalty.messaging.contacts import Contact, push_contact
from loyalty.messaging.models import Device, NotificationDelivery
from loyalty.storage.database import Database
from notifications import policy
from notifications.channels import webhooks
from notifications.channels.base import Delivery, PushMessage, PushSender
from notifications.config import NotificationConfig

log = logging.getLogger("trouw.worker")
UTC_ZONE = ZoneInfo("UTC")


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
    event: Recorded[Event]
    device_id: int | None = None
    device_token: str | None = None
    platform: str | None = None


@dataclass(frozen=True)
class Checks:
    """What the claiming transaction read for the policy checks of one batch. `had` (the
    marketing contacts each member had this week and when: campaign messages, pushes and
    surveys) grows as the batch is claimed; `zones` are the members' time zones."""

    consents: set[tuple[int, str]]
    had: dict[int, dict[Contact, datetime]]
    zones: dict[int, ZoneInfo]
    budget: Budget
    now: datetime


def settle(row: NotificationDelivery, outcome: Delivery, now: datetime) -> None:
    """Record an outcome decided in the claiming transaction (nothing was sent)."""
    if outcome.status == "deferred":
        row.next_attempt_at = outcome.until or now
        row.last_error = outcome.detail or None
        return
    row.status = "failed" if outcome.status == "failed" else "dead"
    row.last_error = outcome.detail[:500]
    row.lease_token = None


def _log_attempt(claim: Claim, status: str, detail: str) -> None:
    """One line per attempt: what was sent where, for which event, and how it went."""
    level = logging.WARNING if status in ("dead", "failed") else logging.INFO
    log.log(
        level,
        "delivery %s (%s %s, event %s) %s: %s",
        claim.id,
        claim.channel,
        claim.target,
        claim.event.id,
        status,
        detail,
        extra={
            "delivery_id": claim.id,
            "channel": claim.channel,
            "target": claim.target,
            "event_id": claim.event.id,
            "topic": claim.event.event.name,
            "attempt": claim.attempts,
            "outcome": status,
        },
    )


class Courier:
    """Sends over the channels: webhooks through one HTTP client (made when first needed,
    unless one is given), pushes through the push senders by platform."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: NotificationConfig,
        push_senders: Mapping[str, PushSender],
        http: httpx.AsyncClient | None,
        rng: random.Random,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.push_senders = push_senders
        self.endpoints = {e.url: e for e in config.webhooks}
        self._http = http
        self._owns_http = http is None
        self._rng = rng

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.config.webhook_timeout)
        return self._http

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- before sending ------------------------------------------------------------------

    def verdict(
        self,
        row: NotificationDelivery,
        event: Recorded[Event],
        device: Device | None,
        checks: Checks,
    ) -> Delivery | None:
        """What policy says before sending: None to send now, else the outcome to record."""
        if row.attempts >= self.config.retry.max_attempts:
            # Every attempt so far was lost with its worker (the outcome was never recorded).
            return Delivery.dead("attempts exhausted without an answer (workers lost)")
        if row.channel == "webhook":
            return None if row.target in self.endpoints else Delivery.failed("endpoint_removed")
        if row.channel != "push":
            return Delivery.failed(f"unknown channel {row.channel}")
        return self._push_verdict(row, event, device, checks)

    def _push_verdict(
        self,
        row: NotificationDelivery,
        event: Recorded[Event],
        device: Device | None,
        checks: Checks,
    ) -> Delivery | None:
        config, now = self.config, checks.now
        if device is None:
            return Delivery.failed("device_removed")
        if device.member_id != row.member_id:
            return Delivery.failed("device_moved")
        if not config.push_enabled or device.platform not in self.push_senders:
            return Delivery.failed("push_disabled")
        if now - event.occurred_at > config.push_ttl:
            return Delivery.failed("expired")
        if (device.member_id, policy.PUSH_CONSENT) not in checks.consents:
            return Delivery.failed("no_consent")
        if row.kind == "marketing":
            zone = checks.zones.get(device.member_id, UTC_ZONE)
            until = quiet_until(checks.budget.quiet, now, zone)
            if until is not None:
                return Delivery.deferred(until, QUIET_HOURS)
            had = checks.had.get(device.member_id, {})
            if push_contact(row.event_id) not in had:  # else counted already (a campaign's)
                reason = cap_reason(checks.budget, had, now, zone)
                if reason is not None:
                    return Delivery.failed(reason)
        return None

    # -- sending -------------------------------------------------------------------------

    async def deliver(self, claims: Sequence[Claim]) -> None:
        """Send each claimed delivery (several at a time) and record what happened."""
        if not claims:
            return
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(claim: Claim) -> None:
            async with gate:
                # Its log lines carry the id of the request the change came from.
                with bound_request_id(claim.event.request_id):
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
            endpoint = self.endpoints.get(claim.target)
            if endpoint is None:
                return Delivery.failed("endpoint_removed")
            return await webhooks.post(
                self.http,
                endpoint,
                claim.event,
                self.clock.now(),
                self.config.webhook_timeout,
                self.config.ids,
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

    # -- recording -----------------------------------------------------------------------

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: exponential, capped, jittered
        (between half and all of it, so retries from one outage spread out)."""
        retry = self.config.retry
        delay = min(
            retry.cap.total_seconds(), retry.base.total_seconds() * 2 ** min(attempts - 1, 40)
        )
        return timedelta(seconds=delay / 2 + self._rng.uniform(0, delay / 2))

    def _changes(self, claim: Claim, outcome: Delivery, now: datetime) -> dict[str, Any]:
        """The columns an attempt's outcome sets on its delivery row."""
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
        return values

    async def record(self, claim: Claim, outcome: Delivery) -> bool:
        """Write the outcome of an attempt, if this worker still holds the lease. Returns
        whether it did."""
        values = self._changes(claim, outcome, self.clock.now())
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
        _log_attempt(claim, str(values.get("status", outcome.status)), outcome.detail)
        return bool(getattr(result, "rowcount", 0))
