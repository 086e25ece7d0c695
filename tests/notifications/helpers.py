"""Shared pieces of the notification tests: a programme, events, a fake push sender, workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from loyalty.core.clock import Clock, FixedClock
from loyalty.core.events import decode
from loyalty.core.outbox import emit
from loyalty.messaging.devices import register
from loyalty.messaging.models import Device, InboxMessage, NotificationDelivery
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database
from notifications.channels import PushMessage, PushResult
from notifications.config import NotificationConfig, WebhookEndpoint
from notifications.worker import Worker
from tests.loyalty.services import add_member
from tests.support.data import server_ids

SECRET = "whsec_0123456789abcdef0123"
# Wednesday 11 March 2026, 13:00 in Amsterdam (UTC+1): not within quiet hours.
AFTERNOON = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)

PROGRAMME = """\
programme:
  key: bakker
  name: Bakker
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
  locales: [en-GB, nl-NL]
points:
  pending_days: 14
earning:
  base:
    points_per_unit: 10
    rounding: down
tiers:
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: zilver, name: Zilver, threshold: 500}
    - {key: goud, name: Goud, threshold: 2000}
"""


async def install(db: Database, clock: Clock, text: str = PROGRAMME) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(text), clock.now())
        await uow.commit()


async def member(
    db: Database,
    clock: FixedClock,
    email: str = "anna@example.com",
    *,
    push: bool = True,
    in_app: bool = True,
    locale: str | None = None,
    devices: tuple[tuple[str, str], ...] = (("ios", "apns-token-1"),),
) -> int:
    """A member with consents and registered devices; returns the member id."""
    row = await add_member(
        db,
        clock,
        email,
        profile={"locale": locale} if locale else None,
        consents={"push": push, "in_app": in_app},
    )
    async with db.unit_of_work() as uow:
        for platform, token in devices:
            await register(uow.session, row.id, platform, token, clock.now())
        await uow.commit()
    return row.id


async def event(
    db: Database,
    clock: Clock,
    topic: str,
    member_id: int | None,
    payload: dict[str, Any] | None = None,
) -> int:
    async with db.unit_of_work() as uow:
        row = emit(uow.session, decode(topic, member_id, payload or {}, 1), clock.now())
        await uow.session.flush()
        await uow.commit()
    return row.id


def earned(points: int = 50, available: int = 150, entry_id: int = 1) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "kind": "earn",
        "points": points,
        "description": "Purchase",
        "occurred_at": AFTERNOON.isoformat(),
        "available_at": None,
        "expires_at": None,
        "available": available,
        "pending": 0,
        "lifetime_earned": available,
        "debt": 0,
        "expiring_points": 0,
        "expiring_at": None,
    }


def expiring(points: int = 120, expires_at: str = "2026-04-01T00:00:00+02:00") -> dict[str, Any]:
    return {"points": points, "expires_at": expires_at}


def tier_changed(old: str, new: str, reason: str = "qualified") -> dict[str, Any]:
    return {"from": old, "to": new, "reason": reason}


def redeemed(redemption_id: int = 3, reward_key: str = "koffie") -> dict[str, Any]:
    return {
        "redemption_id": redemption_id,
        "reward_id": 1,
        "reward_key": reward_key,
        "points": 250,
        "expires_at": "2026-04-11T12:00:00+00:00",
    }


@dataclass
class FakePush:
    """A push service of our own for the tests: answers in turn (the last one repeats)."""

    platform: str = "ios"
    answers: list[PushResult] = field(default_factory=lambda: [PushResult("delivered", "ok")])
    sent: list[tuple[str, PushMessage]] = field(default_factory=list)

    async def send(self, token: str, message: PushMessage) -> PushResult:
        self.sent.append((token, message))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def make_worker(
    db: Database,
    clock: Clock,
    *,
    hooks: list[WebhookEndpoint] | None = None,
    push: dict[str, FakePush] | None = None,
    http: httpx.AsyncClient | None = None,
    **config: Any,
) -> Worker:
    settings = NotificationConfig(ids=server_ids(), webhooks=tuple(hooks or ()), **config)
    senders = push if push is not None else {"ios": FakePush("ios"), "android": FakePush("android")}
    return Worker(db, clock, settings, senders, http)


def endpoint(url: str, *events: str) -> WebhookEndpoint:
    """An endpoint of the given events (every event when none are given: signing a member up
    is an event too, so tests that count deliveries name the events they are about)."""
    return WebhookEndpoint(url=url, secret=SECRET, events=tuple(events) or ("*",))


async def deliveries(db: Database, channel: str | None = None) -> list[NotificationDelivery]:
    async with db.unit_of_work(write=False) as uow:
        query = select(NotificationDelivery).order_by(NotificationDelivery.id)
        if channel is not None:
            query = query.where(NotificationDelivery.channel == channel)
        return list(await uow.session.scalars(query))


async def devices_of(db: Database, member_id: int) -> list[Device]:
    async with db.unit_of_work(write=False) as uow:
        return list(await uow.session.scalars(select(Device).where(Device.member_id == member_id)))


async def inbox_of(db: Database, member_id: int) -> list[InboxMessage]:
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(
                select(InboxMessage)
                .where(InboxMessage.member_id == member_id)
                .order_by(InboxMessage.id)
            )
        )
