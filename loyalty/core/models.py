"""The outbox (events written in the same transaction as the change) and the receipts of the
reactions that ran after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class OutboxEvent(Base):
    """Something others must hear about, written in the same transaction as the change."""

    __tablename__ = "outbox_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic: Mapped[str] = mapped_column(String(63))
    # The version of the event type's payload (`loyalty.core.events`).
    version: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    member_id: Mapped[int | None] = mapped_column(BigId, index=True)
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    # The HTTP request the change came from (`loyalty.core.request_ids`); None for changes
    # made by jobs and commands. Kept out of the payload, so webhook signatures do not cover it.
    request_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("ix_outbox_events_unpublished", "published_at", "id"),)


class ReactionReceipt(Base):
    """An after-commit reaction ran for an event; written in the same transaction as what the
    reaction did, so each reaction takes effect once per event."""

    __tablename__ = "reaction_receipts"
    reaction: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
    )
    done_at: Mapped[datetime]


class WorkerCursor(Base):
    """A position a worker keeps in the database, e.g. the outbox event id up to which every
    event is known to be dispatched (so fan-out never scans the whole outbox)."""

    __tablename__ = "worker_cursors"
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
