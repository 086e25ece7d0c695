"""How far behind the installation's background work is, read for monitoring: the outbox
events not yet published and the deliveries by state. Every process reads the same rows, so
any of them may report it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select

from loyalty.core.models import OutboxEvent
from loyalty.messaging.models import NotificationDelivery
from loyalty.storage.database import Database


@dataclass(frozen=True)
class Backlog:
    unpublished: int
    # Seconds since the oldest unpublished event happened (0 when none waits).
    outbox_lag_seconds: float
    # pending (never tried), retrying (tried and failed, to be tried again), dead.
    deliveries: dict[str, int] = field(default_factory=dict)


async def read_backlog(db: Database, now: datetime) -> Backlog:
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        count, oldest = (
            await s.execute(
                select(func.count(), func.min(OutboxEvent.occurred_at)).where(
                    OutboxEvent.published_at.is_(None)
                )
            )
        ).one()
        state = case(
            (NotificationDelivery.status == "dead", "dead"),
            (NotificationDelivery.attempts > 0, "retrying"),
            else_="pending",
        )
        rows = await s.execute(
            select(state, func.count())
            .where(NotificationDelivery.status.in_(("pending", "dead")))
            .group_by(state)
        )
        deliveries = {"pending": 0, "retrying": 0, "dead": 0} | {k: n for k, n in rows.all()}
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return Backlog(unpublished=count, outbox_lag_seconds=lag, deliveries=deliveries)
