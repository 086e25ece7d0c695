"""The rewards catalogue and redemptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


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
