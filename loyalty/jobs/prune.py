"""Prune the outbox: forget old events once nobody needs them any more."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.models import OutboxEvent, ReactionReceipt, WorkerCursor
from loyalty.jobs.batch import BATCH
from loyalty.messaging.models import NotificationDelivery, OutboxDispatch
from loyalty.storage.database import Database

OUTBOX_RETENTION = timedelta(days=30)
# The cursors of after-commit reactions (`loyalty.core.reactions.ReactionRunner`).
REACTION_CURSORS = "reaction:%"


async def prune_outbox(db: Database, now: datetime) -> int:
    """Forget events older than `OUTBOX_RETENTION` once they are published, every delivery
    of theirs is finished (their delivery records go with them) and every after-commit
    reaction is past them. Reconnecting clients can catch up within the retention period."""
    cutoff = now - OUTBOX_RETENTION
    unfinished = select(NotificationDelivery.id).where(
        NotificationDelivery.event_id == OutboxEvent.id,
        NotificationDelivery.status == "pending",
    )
    async with db.unit_of_work() as uow:
        s = uow.session
        conditions = [
            OutboxEvent.occurred_at < cutoff,
            OutboxEvent.published_at.is_not(None),
            ~exists(unfinished),
        ]
        reactions_at = await _reactions_position(s)
        if reactions_at is not None:
            conditions.append(OutboxEvent.id <= reactions_at)
        ids = await _prunable(s, conditions)
        if ids:
            await _delete(s, ids)
        await uow.commit()
    return len(ids)


async def _reactions_position(s: AsyncSession) -> int | None:
    """The outbox id up to which every after-commit reaction has handled every event (the
    lowest reaction cursor), or None when no reaction keeps a cursor yet. Events above it may
    still be waiting for a reaction, so they stay."""
    position = await s.scalar(
        select(func.min(WorkerCursor.position)).where(WorkerCursor.name.like(REACTION_CURSORS))
    )
    return int(position) if position is not None else None


async def _prunable(s: AsyncSession, conditions: list[ColumnElement[bool]]) -> list[int]:
    return list(
        await s.scalars(
            select(OutboxEvent.id)
            .join(OutboxDispatch, OutboxDispatch.event_id == OutboxEvent.id)
            .where(*conditions)
            .order_by(OutboxEvent.id)
            .limit(BATCH * 10)
        )
    )


async def _delete(s: AsyncSession, ids: list[int]) -> None:
    # Explicit, not only ON DELETE CASCADE: SQLite databases may run without it.
    await s.execute(delete(NotificationDelivery).where(NotificationDelivery.event_id.in_(ids)))
    await s.execute(delete(OutboxDispatch).where(OutboxDispatch.event_id.in_(ids)))
    await s.execute(delete(ReactionReceipt).where(ReactionReceipt.event_id.in_(ids)))
    await s.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
