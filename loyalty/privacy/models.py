"""Data exports and erasure requests.

An export is kept sealed with the member's data key, so erasing the member makes it unreadable
too; it is reached through a download token of which only the hash is stored. An erasure keeps,
once done, only keyed fingerprints of what was erased, for `trouw privacy verify`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class DataExport(Base):
    __tablename__ = "data_exports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The export's JSON, sealed with the member's data key; None once it expired.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class MemberErasure(Base):
    __tablename__ = "member_erasures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16))  # scheduled, cancelled, completed
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_at: Mapped[datetime]
    scheduled_for: Mapped[datetime] = mapped_column(index=True)
    cancelled_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # Keyed hashes (blind-index key) of the values erased, for the verifier.
    fingerprints: Mapped[list[str]] = mapped_column(default=list)
