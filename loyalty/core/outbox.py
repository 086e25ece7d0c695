"""Writing events that others must hear about, in the same transaction as the change, and
reading them back as the typed events they are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import Event, Recorded, decode
from loyalty.core.models import OutboxEvent
from loyalty.core.request_ids import current_request_id

# Where a session keeps the events emitted in it that in-transaction reactions have yet to
# see (`loyalty.core.reactions.Reactions.run_in_transaction`).
EMITTED = "trouw.emitted"


def emit(s: AsyncSession, event: Event, now: datetime) -> OutboxEvent:
    row = OutboxEvent(
        topic=event.name,
        version=event.version,
        member_id=event.member_id,
        payload=event.to_payload(),
        occurred_at=now,
        published_at=None,
        request_id=current_request_id(),
    )
    s.add(row)
    s.info.setdefault(EMITTED, []).append((event, now))
    return row


def take_emitted(s: AsyncSession) -> list[tuple[Event, datetime]]:
    """The events emitted in this session since the last call, oldest first."""
    return s.info.pop(EMITTED, [])


def recorded(row: OutboxEvent) -> Recorded[Event]:
    return Recorded(
        row.id,
        row.occurred_at,
        decode(row.topic, row.member_id, row.payload, row.version),
        request_id=row.request_id,
    )
