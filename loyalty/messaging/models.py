"""Devices, deliveries of events to channels, and the in-app inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class Device(Base):
    """A phone of a member that takes app pushes: its APNs (ios) or FCM (android) token."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(8))  # ios, android
    token: Mapped[str] = mapped_column(String(1024), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class OutboxDispatch(Base):
    """An outbox event whose deliveries have been planned (fanned out): once per event."""

    __tablename__ = "outbox_dispatch"
    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
    )
    dispatched_at: Mapped[datetime]


class NotificationDelivery(Base):
    """One event to one target over one channel, with its attempts: the unit the worker
    claims, retries and dead-letters. Never two for the same (event, channel, target)."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("outbox_events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # push, webhook, inbox
    # push: the device id; webhook: the endpoint URL; inbox: "member:<id>".
    target: Mapped[str] = mapped_column(String(1024))
    member_id: Mapped[int | None] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))  # transactional, marketing
    # What a push says (title, body, data, collapse_key), written at fan-out in the member's
    # language; webhooks send the event itself and leave this empty.
    message: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # Who holds the current attempt: set when claimed, so a late answer from a worker whose
    # lease ran out cannot overwrite what the next worker recorded.
    lease_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("event_id", "channel", "target"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_member_sent", "member_id", "channel", "delivered_at"),
    )


class InboxMessage(Base):
    """A message in the member's in-app inbox, optionally pointing at an offer."""

    __tablename__ = "inbox_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    # The event the message tells about: one message per member and event.
    event_id: Mapped[int | None] = mapped_column(BigId)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # No offers table yet: a plain reference, to become a foreign key with the offers.
    offer_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("member_id", "event_id"),
        Index("ix_inbox_messages_member_recent", "member_id", "id"),
    )


class ContactLog(Base):
    """Every message a sender meant for a member: sent (a contact that counts against the
    budget, unless transactional) or not sent, with the reason (no_consent, quiet_hours,
    daily_cap, weekly_cap, held_out, ...)."""

    __tablename__ = "contact_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    sender: Mapped[str] = mapped_column(String(100))  # e.g. "campaign:excuse-plus"
    channel: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(120))
    sent: Mapped[bool] = mapped_column(Boolean)
    transactional: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(32))
    # The outbox event that carries a sent message.
    event_id: Mapped[int | None] = mapped_column(BigId)

    __table_args__ = (Index("ix_contact_log_member_at", "member_id", "at"),)
