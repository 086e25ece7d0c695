"""The programme's stored row (its file is kept in `spec`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


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
    # A new token with every applied file: processes keep the parsed file in memory and
    # compare this one small column to see whether another process changed it.
    revision: Mapped[str] = mapped_column(String(32), default="", server_default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProgrammeVersion(Base):
    """Every programme file applied, kept: who applied it, when, and the file itself."""

    __tablename__ = "programme_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    programme_key: Mapped[str] = mapped_column(String(63))
    version: Mapped[int]
    spec: Mapped[dict[str, Any]]
    applied_at: Mapped[datetime]
    applied_by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("programme_key", "version"),)
