"""Each member's tier."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


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
    # A downgrade found at recalculation waits until then (the programme's grace days).
    downgrade_at: Mapped[datetime | None]
