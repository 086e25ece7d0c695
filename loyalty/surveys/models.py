"""Surveys, every version of each and every change with who made it, members' responses and
answers, the triggers that make a survey due, and the profile fields answers filled in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class Survey(Base):
    """A survey in its current version; the questions and logic are the `definition`
    document (the programme file's survey, validated by `SurveySpec`)."""

    __tablename__ = "surveys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # draft, live, paused, closed
    state: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    incentive_points: Mapped[int] = mapped_column(Integer, default=0)
    definition: Mapped[dict[str, Any]]
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # "programme" (from the programme file) or "admin".
    source: Mapped[str] = mapped_column(String(16), default="programme")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SurveyVersion(Base):
    """Every version a survey has had: a response keeps the questions it was given."""

    __tablename__ = "survey_versions"
    survey_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]]
    changed_at: Mapped[datetime]


class SurveyChange(Base):
    """One change to a survey, with who made it: `created`, `changed` (its definition) or
    `state`; `version` and `state` are the survey's after the change."""

    __tablename__ = "survey_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("surveys.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    # "programme" (the programme file), or the name of the API key that made the change.
    actor: Mapped[str] = mapped_column(String(120))
    changed_at: Mapped[datetime]

    __table_args__ = (Index("ix_survey_changes_survey", "survey_id", "id"),)


class SurveyResponse(Base):
    """One member taking one survey once. `open_key` is set while it is in progress and is
    unique, so two devices starting at once get the same response."""

    __tablename__ = "survey_responses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("surveys.id", ondelete="CASCADE"))
    survey_version: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    # in_progress, completed, expired
    state: Mapped[str] = mapped_column(String(16))
    open_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The question to answer now (None once completed).
    current_question: Mapped[str | None] = mapped_column(String(63))
    answered: Mapped[int] = mapped_column(Integer, default=0)
    # The logic's working state: variables set, questions skipped, the hidden values.
    variables: Mapped[dict[str, Any]]
    skipped: Mapped[list[str]]
    hidden: Mapped[dict[str, Any]]
    points_awarded: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_survey_responses_member", "member_id", "started_at"),
        Index("ix_survey_responses_survey", "survey_id", "state"),
        Index("ix_survey_responses_expiry", "state", "expires_at"),
    )


class SurveyAnswer(Base):
    """One answer in a response: a choice key, choice keys, a number, a text or a date, as
    JSON (`{"value": ...}`); `number` repeats a rating or NPS score for the results."""

    __tablename__ = "survey_answers"
    response_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("survey_responses.id", ondelete="CASCADE"), primary_key=True
    )
    question: Mapped[str] = mapped_column(String(63), primary_key=True)
    survey_id: Mapped[int] = mapped_column(BigId)
    position: Mapped[int] = mapped_column(Integer)
    value: Mapped[dict[str, Any]]
    number: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime]

    __table_args__ = (Index("ix_survey_answers_survey", "survey_id", "question"),)


class SurveyTrigger(Base):
    """A survey made due for a member by a purchase or an event: from `due_at` until
    `expires_at`, with the hidden values the trigger passes on; used by the response it
    started."""

    __tablename__ = "survey_triggers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("surveys.id", ondelete="CASCADE"))
    # What made it due: "purchase:<id>" or "event:<name>:<external id>".
    source: Mapped[str] = mapped_column(String(200))
    hidden: Mapped[dict[str, Any]]
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    response_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("member_id", "survey_id", "source"),
        Index("ix_survey_triggers_member_due", "member_id", "due_at"),
    )


class ProfileUpdate(Base):
    """A profile field an answer filled in: which field, from which survey, when."""

    __tablename__ = "survey_profile_updates"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(32))
    value: Mapped[dict[str, Any]]
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("surveys.id", ondelete="CASCADE"))
    response_id: Mapped[int] = mapped_column(BigId)
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_survey_profile_updates_member", "member_id", "field"),)
