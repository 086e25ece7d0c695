"""Members and the consents they give."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


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
    # IANA name; quiet hours and the contact budget's days count in it (else the programme's).
    time_zone: Mapped[str | None] = mapped_column(String(64))
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
