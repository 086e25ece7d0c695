"""Offers, every version of each, and what each member did with them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class Offer(Base):
    """An offer in its current version. What queries filter on has a column; the rest of the
    definition (value, eligibility, context, grouping, coupon) is the `definition` document,
    validated by the offers area."""

    __tablename__ = "offers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # draft, live, paused, archived
    state: Mapped[str] = mapped_column(String(16))
    # bonus_points, points_multiplier, percent_off, amount_off, free_item
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    terms: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(1024))
    definition: Mapped[dict[str, Any]]
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    # "clip": the member activates it; "auto": it applies without activation.
    activation: Mapped[str] = mapped_column(String(8), default="clip")
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    global_limit: Mapped[int | None] = mapped_column(BigInteger)
    # Counters moved in the same transaction as the activation or redemption they count.
    activated_count: Mapped[int] = mapped_column(BigInteger, default=0)
    redeemed_count: Mapped[int] = mapped_column(BigInteger, default=0)
    points_budget: Mapped[int | None] = mapped_column(BigInteger)
    points_budget_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    # "programme" (from the programme file) or "admin" (made through the API).
    source: Mapped[str] = mapped_column(String(16), default="programme")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_offers_state_valid", "state", "valid_until"),)


class OfferVersion(Base):
    """Every version an offer has had, as it was: what a member activated stays explainable."""

    __tablename__ = "offer_versions"
    offer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot: Mapped[dict[str, Any]]
    changed_at: Mapped[datetime]
    # Who made the change: "programme", or the API key's name.
    actor: Mapped[str | None] = mapped_column(String(120))


class MemberOffer(Base):
    """A member's activation of an offer (one per member and offer, so a retried activation
    finds the first), with how often it was used since."""

    __tablename__ = "member_offers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(BigId, ForeignKey("offers.id", ondelete="CASCADE"))
    # The offer's version when it was activated.
    offer_version: Mapped[int] = mapped_column(Integer)
    # activated, redeemed (used up), expired
    state: Mapped[str] = mapped_column(String(16))
    uses: Mapped[int] = mapped_column(Integer, default=0)
    coupon_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    activated_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("member_id", "offer_id"),
        Index("ix_member_offers_offer", "offer_id"),
    )


class OfferApplication(Base):
    """One use of an offer at the till: what it gave on a purchase (points, discount), or a
    coupon taken without a purchase, and how many of its points returns took back since."""

    __tablename__ = "offer_applications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    offer_id: Mapped[int] = mapped_column(BigId, ForeignKey("offers.id", ondelete="CASCADE"))
    offer_version: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    # None for a coupon code taken at the till (RedeemCode) rather than on a purchase.
    purchase_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("purchases.id", ondelete="CASCADE")
    )
    # False: the offer would have applied, but its budget or limit did not allow it (kept so
    # that the purchase can say why).
    applied: Mapped[bool] = mapped_column(Boolean, default=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    discount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    explanation: Mapped[str] = mapped_column(String(240))
    coupon_code: Mapped[str | None] = mapped_column(String(64))
    applied_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("purchase_id", "offer_id"),
        Index("ix_offer_applications_member", "member_id", "offer_id"),
    )
