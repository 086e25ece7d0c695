"""The points ledger: accounts, entries, lots and what earned them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


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
    # What returns undid so far (earned x returned / original), the waived part included;
    # `points_waived` is the part not taken because the balance could not go below zero.
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    points_waived: Mapped[int] = mapped_column(BigInteger, default=0)
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
    # Undone by this return, the waived part included (as on `Purchase`).
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    points_waived: Mapped[int] = mapped_column(BigInteger, default=0)
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
