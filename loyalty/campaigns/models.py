"""Campaigns, the members' journeys through them with a receipt per step, and the
programme-wide control group's versions (kept, so that old reports reproduce)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class Campaign(Base):
    """A campaign in its current version; its entry, rules and steps are the `definition`
    (the programme file's campaign, validated by `CampaignSpec`)."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16))  # draft, live, paused, ended
    holdout_share: Mapped[float] = mapped_column(Float)
    definition: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(16), default="programme")  # or "admin"
    # When the scheduled entry last ran (None: never).
    last_scheduled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CampaignEnrolment(Base):
    """One member's way through one campaign, entered once per `entry_ref` (the event or the
    scheduled run). `position` counts the step receipts written; `step_key` is the step to
    run next, when `due_at` has come (or the event it waits for arrives)."""

    __tablename__ = "campaign_enrolments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id", ondelete="CASCADE"))
    campaign_version: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    entry_ref: Mapped[str] = mapped_column(String(120))
    held_out: Mapped[bool] = mapped_column(Boolean)
    # Why held out: "holdout" (the campaign's share) or "control" (the programme's group).
    holdout_reason: Mapped[str | None] = mapped_column(String(16))
    control_version: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # active, waiting, completed, exited
    step_key: Mapped[str | None] = mapped_column(String(63))
    position: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None]
    waiting_for: Mapped[str | None] = mapped_column(String(63))
    timeout_step: Mapped[str | None] = mapped_column(String(63))
    received: Mapped[bool] = mapped_column(Boolean, default=False)
    entered_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id", "entry_ref"),
        Index("ix_campaign_enrolments_due", "state", "due_at"),
        Index("ix_campaign_enrolments_member", "member_id", "campaign_id"),
        Index("ix_campaign_enrolments_waiting", "waiting_for", "member_id"),
    )


class CampaignStep(Base):
    """The receipt of one step of one journey, written in the same transaction as the step's
    effect: the unique (enrolment, seq) is why no step runs twice."""

    __tablename__ = "campaign_steps"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaign_enrolments.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    step_key: Mapped[str] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(16))
    # done, skipped (not sent, with the reason), held_out (nothing given), waiting
    state: Mapped[str] = mapped_column(String(16))
    skipped_reason: Mapped[str | None] = mapped_column(String(63))
    detail: Mapped[dict[str, Any]]
    at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("enrolment_id", "seq"),)


class ControlGroupVersion(Base):
    """A version of the programme-wide control group: which share, and since and until when.
    Membership is a pure function of (version, member), so it is never stored per member."""

    __tablename__ = "campaign_control_groups"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    share: Mapped[float] = mapped_column(Float)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
