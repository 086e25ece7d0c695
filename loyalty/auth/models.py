"""Sessions, refresh tokens, API keys, rate-limit counters and installation secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class InstanceSecret(Base):
    """Secrets generated on first start (e.g. the token signing key) when none is configured,
    kept in the database so every process of one installation shares them."""

    __tablename__ = "instance_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


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
