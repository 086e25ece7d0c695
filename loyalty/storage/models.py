"""SQLAlchemy models: the tables of Trouw. Migrations under `migrations/` create them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from loyalty.storage.types import BigId, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class InstanceSecret(Base):
    """Secrets generated on first start (e.g. the token signing key) when none is configured,
    kept in the database so every process of one installation shares them."""

    __tablename__ = "instance_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Programme(Base):
    __tablename__ = "programmes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    point_value: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    timezone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Member(Base):
    __tablename__ = "members"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_number: Mapped[str] = mapped_column(String(16), unique=True)
    card_barcode: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    locale: Mapped[str | None] = mapped_column(String(35))
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    interests: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Subject of the brand's own identity provider, for members who sign in there.
    external_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    joined_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_members_phone", "phone"),)


class MemberConsent(Base):
    __tablename__ = "member_consents"
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(24), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32), default="member")


class AuthSession(Base):
    """One signed-in device: a chain of refresh tokens. Revoking it signs the device out."""

    __tablename__ = "auth_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_refreshed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    scopes: Mapped[list[str]]
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class RateLimitCounter(Base):
    """Fixed-window counters shared by every process (sign-in attempts per account and client)."""

    __tablename__ = "rate_limit_counters"
    bucket: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer)


class PointAccount(Base):
    """The cached balance of one member, and the row every balance change locks first."""

    __tablename__ = "point_accounts"
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(BigInteger, default=0)  # Σ ledger entries
    debt: Mapped[int] = mapped_column(BigInteger, default=0)  # points owed after a return
    lifetime_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime_expired: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class LedgerEntry(Base):
    """One change of a member's points. Entries are only ever added."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    available_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    description: Mapped[str] = mapped_column(String(200))
    source_type: Mapped[str | None] = mapped_column(String(24))
    source_id: Mapped[int | None] = mapped_column(BigId)
    rule: Mapped[str | None] = mapped_column(String(63))
    actor: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    __table_args__ = (
        Index("ix_ledger_entries_member_recent", "member_id", "id"),
        Index("ix_ledger_entries_member_rule", "member_id", "rule", "occurred_at"),
        Index("ix_ledger_entries_source", "source_type", "source_id"),
    )


class PointLot(Base):
    """Points earned together: spendable from `available_at`, gone at `expires_at`."""

    __tablename__ = "point_lots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), unique=True)
    purchase_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("purchases.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime]
    available_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    # When the member was told the lot became spendable / is about to expire.
    released_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_point_lots_member_spend", "member_id", "remaining", "expires_at"),
        Index("ix_point_lots_expiry", "expires_at", "remaining"),
        Index("ix_point_lots_purchase", "purchase_id"),
        Index("ix_point_lots_release", "released_at", "available_at"),
    )


class LotAllocation(Base):
    """Which lot a negative entry (spend, expiry, return, debit) took its points from."""

    __tablename__ = "lot_allocations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), index=True)
    lot_id: Mapped[int] = mapped_column(BigId, ForeignKey("point_lots.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)


class Purchase(Base):
    __tablename__ = "purchases"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    store: Mapped[str | None] = mapped_column(String(120))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    eligible_total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    points_earned: Mapped[int] = mapped_column(BigInteger)
    points_pending: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    returned_eligible: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    recorded_by: Mapped[str | None] = mapped_column(String(120))


class PurchaseReturn(Base):
    __tablename__ = "purchase_returns"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purchase_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchases.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    eligible_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recorded_at: Mapped[datetime]


class MemberEvent(Base):
    """A non-purchase event reported for a member (sign-up, review, check-in, app events)."""

    __tablename__ = "member_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(63))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    properties: Mapped[dict[str, Any]]
    points_awarded: Mapped[int] = mapped_column(BigInteger)


class Reward(Base):
    """A reward in the catalogue, kept in step with the programme file."""

    __tablename__ = "rewards"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    points_cost: Mapped[int] = mapped_column(BigInteger)
    image_url: Mapped[str | None] = mapped_column(String(500))
    stock: Mapped[int | None] = mapped_column(BigInteger)  # None: unlimited
    issued: Mapped[int] = mapped_column(BigInteger, default=0)  # live redemptions against stock
    per_member_count: Mapped[int | None] = mapped_column(Integer)
    per_member_period: Mapped[str | None] = mapped_column(String(8))
    visible_from: Mapped[datetime | None]
    visible_until: Mapped[datetime | None]
    tiers: Mapped[list[str]]
    code_valid_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class Redemption(Base):
    __tablename__ = "redemptions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    reward_id: Mapped[int] = mapped_column(BigId, ForeignKey("rewards.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # issued, redeemed, cancelled
    points: Mapped[int] = mapped_column(BigInteger)
    spend_entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    redeemed_by: Mapped[str | None] = mapped_column(String(120))
    cancelled_at: Mapped[datetime | None]


class MemberTier(Base):
    __tablename__ = "member_tiers"
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    tier: Mapped[str] = mapped_column(String(63))
    since: Mapped[datetime]
    # A tier set by staff is a floor until `floor_until`.
    floor_tier: Mapped[str | None] = mapped_column(String(63))
    floor_until: Mapped[datetime | None]
    recalculated_at: Mapped[datetime | None]


class OutboxEvent(Base):
    """Something others must hear about, written in the same transaction as the change."""

    __tablename__ = "outbox_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic: Mapped[str] = mapped_column(String(63))
    member_id: Mapped[int | None] = mapped_column(BigId, index=True)
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
    published_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_events_unpublished", "published_at", "id"),)


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


class WorkerCursor(Base):
    """A position a worker keeps in the database, e.g. the outbox event id up to which every
    event is known to be dispatched (so fan-out never scans the whole outbox)."""

    __tablename__ = "worker_cursors"
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


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
