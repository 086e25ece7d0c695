"""Writing events that others must hear about, in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.storage.models import OutboxEvent


def emit(
    s: AsyncSession, topic: str, member_id: int | None, payload: dict[str, Any], now: datetime
) -> OutboxEvent:
    event = OutboxEvent(
        topic=topic, member_id=member_id, payload=payload, occurred_at=now, published_at=None
    )
    s.add(event)
    return event
