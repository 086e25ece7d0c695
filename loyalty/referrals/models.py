"""The referrals area's tables: personal codes, the fingerprints of what members signed up
with (keyed hashes, never the values), referrals with their state, every decision taken on
one, the rewards given (one row per referral and side, so each is given once), the
programme-wide totals the budget is checked against, and the key of the fingerprints."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class ReferralCode(Base):
    """A member's personal code, made on sign-up (or when first asked for)."""

    __tablename__ = "referral_codes"
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime]


class ReferralFingerprint(Base):
    """One signal of a member (kind: email, phone, device, client, payment) as a keyed hash of
    its normalised value: two members with the same digest of a kind share that signal."""

    __tablename__ = "referral_fingerprints"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_referral_fingerprints_kind_digest", "kind", "digest"),
        Index("ix_referral_fingerprints_member", "member_id", "kind", "digest", unique=True),
    )


class Referral(Base):
    """A sign-up with a referral code, whatever became of it. `state`: ignored (the code was
    not usable; `notice` says why), pending (waits for a qualifying purchase), held (waits for
    review), qualified (waits for the return window), rewarded, rejected, cancelled."""

    __tablename__ = "referrals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    friend_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), unique=True
    )
    referrer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="SET NULL")
    )
    code: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    notice: Mapped[str | None] = mapped_column(String(32))
    risk_score: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[list[str]] = mapped_column(default=list)
    # Keyed hash of the client address the friend signed up from (velocity per client).
    client_digest: Mapped[str | None] = mapped_column(String(64))
    purchase_id: Mapped[int | None] = mapped_column(BigInteger)
    purchase_external_id: Mapped[str | None] = mapped_column(String(128))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    qualified_at: Mapped[datetime | None]
    rewards_due_at: Mapped[datetime | None]
    rewarded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_referrals_referrer_state", "referrer_id", "state"),
        Index("ix_referrals_state_due", "state", "rewards_due_at"),
        Index("ix_referrals_code_created", "code", "created_at"),
        Index("ix_referrals_client_created", "client_digest", "created_at"),
        Index("ix_referrals_purchase", "purchase_id"),
    )


class ReferralDecision(Base):
    """Every decision on a referral, by the fraud checks or an admin, with its reasons."""

    __tablename__ = "referral_decisions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    # allow, hold, block, ignore, approve, reject, qualify, cancel
    decision: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(120))
    risk_score: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[list[str]] = mapped_column(default=list)
    note: Mapped[str | None] = mapped_column(String(500))
    decided_at: Mapped[datetime]


class ReferralReward(Base):
    """One side's reward of one referral: its primary key is what makes it happen once.
    `status`: granted, or skipped with the reason (a cap or the budget)."""

    __tablename__ = "referral_rewards"
    referral_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True
    )
    side: Mapped[str] = mapped_column(String(8), primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(Integer, default=0)
    offer_key: Mapped[str | None] = mapped_column(String(63))
    decided_at: Mapped[datetime]

    __table_args__ = (Index("ix_referral_rewards_member", "member_id", "side", "status"),)


class ReferralTotals(Base):
    """One row: what referrals have given in total, taken atomically against the budget."""

    __tablename__ = "referral_totals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    points_given: Mapped[int] = mapped_column(BigInteger, default=0)
    rewards_given: Mapped[int] = mapped_column(BigInteger, default=0)


class ReferralKey(Base):
    """The random key of the fingerprints' keyed hashes, made once per installation."""

    __tablename__ = "referral_keys"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
