"""Segments, who is in each (since when and why), each member's purchase rhythm, and the
programme-wide RFM cut points with the state of the full rebuild."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class Segment(Base):
    """A segment in its current definition (`rules` is a `Condition` document)."""

    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    rules: Mapped[dict[str, Any]]
    # "programme" (from the programme file) or "admin" (made through the API).
    source: Mapped[str] = mapped_column(String(16), default="programme")
    # False once the programme file no longer has it: kept (memberships name it), not used.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SegmentMembership(Base):
    """A member in a segment: since when, and the reasons the rules gave the last time they
    were evaluated."""

    __tablename__ = "segment_memberships"
    segment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[datetime]
    reasons: Mapped[list[str]]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_segment_memberships_member", "member_id"),)


class MemberRhythm(Base):
    """What a member's purchases say, as of `computed_at`: the RFM figures and quintiles, the
    usual interval between purchases, the lifecycle stage and the churn risk with its parts.
    Rewritten for one member after their events, for everyone by the rebuild."""

    __tablename__ = "member_rhythms"
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    purchases_in_year: Mapped[int] = mapped_column(Integer, default=0)
    spend_in_year: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None]
    usual_interval_days: Mapped[float | None] = mapped_column(Float)
    home_store: Mapped[str | None] = mapped_column(String(120))
    # Quintiles 1..5 across the programme's buyers; None for members who never bought.
    recency_score: Mapped[int | None] = mapped_column(Integer)
    frequency_score: Mapped[int | None] = mapped_column(Integer)
    monetary_score: Mapped[int | None] = mapped_column(Integer)
    lifecycle_stage: Mapped[str] = mapped_column(String(16))
    churn_risk: Mapped[float] = mapped_column(Float)
    churn_parts: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime]

    __table_args__ = (Index("ix_member_rhythms_computed", "computed_at"),)


class RfmState(Base):
    """One row: the quintile cut points of the last full rebuild, and how far the rebuild in
    progress has come (members are taken in id order after `cursor`)."""

    __tablename__ = "segment_rebuilds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recency_cuts: Mapped[list[str]]
    frequency_cuts: Mapped[list[str]]
    monetary_cuts: Mapped[list[str]]
    started_at: Mapped[datetime | None]
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    finished_at: Mapped[datetime | None]
