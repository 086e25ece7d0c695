"""Inputs of surveys: starting one, answering its current question, and making and
changing surveys (the back office)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from api.core import ids
from loyalty.surveys.answers import AnswerInput


@strawberry.input
class StartSurveyInput:
    survey_id: strawberry.ID


@strawberry.input(
    description="The answer to the current question: `choiceIds` for a choice question, "
    "`number` for a rating or NPS, `text`, or `date`. Nothing at all passes an optional "
    "question by."
)
class AnswerSurveyInput:
    response_id: strawberry.ID
    question_id: strawberry.ID
    choice_ids: list[strawberry.ID] | None = None
    number: int | None = None
    text: str | None = None
    date: date | None = None

    def response(self) -> int:
        return ids.decode(self.response_id, "SurveyResponse", "responseId")

    def to_domain(self) -> AnswerInput:
        return AnswerInput(
            question=str(self.question_id),
            choices=[str(c) for c in self.choice_ids or []],
            number=self.number,
            text=self.text,
            day=self.date,
        )


# -- the back office: making and changing surveys -----------------------------------------

QUESTIONS_HELP = (
    "The questions, as the programme file's `surveys:` section writes them (snake_case keys: "
    "`key`, `prompt`, `kind`, `required`, `choices`, `min_picks`, `max_picks`, `scale`, "
    "`max_length`, `low_at_most`, `profile_field`, `logic` with `if`/`jump`/`skip`/`set`). "
    "Problems are reported at their path, such as `questions.1.logic.0.jump`."
)


@strawberry.enum(description="Where a survey is in its life, as the programme sets it.")
class SurveyStatus(Enum):
    DRAFT = "draft"
    LIVE = "live"
    PAUSED = "paused"
    CLOSED = "closed"


@strawberry.enum(description="What makes a survey due: a purchase, or a named event.")
class SurveyTrigger(Enum):
    PURCHASE = "purchase"
    EVENT = "event"


@strawberry.input(
    description="Who is asked and how often; a part left out takes the programme file's "
    "default. `segment` is a key of the programme file's `segments:`."
)
class SurveyTargetingInput:
    segment: str | None = None
    after: SurveyTrigger | None = None
    event: str | None = None
    delay_hours: int | None = None
    within_hours: int | None = None
    repeat_every_days: int | None = strawberry.field(
        default=None, description="Ask again this long after; left out: once per member."
    )
    sample_percent: int | None = None
    starts: datetime | None = None
    ends: datetime | None = None

    def to_spec(self) -> dict[str, Any]:
        given = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        return {
            name: value.value if isinstance(value, Enum) else value
            for name, value in given.items()
            if value is not None
        }


@strawberry.input(description="The parts of a survey that change; those left out stay.")
class SurveyFieldsInput:
    title: str | None = UNSET
    description: str | None = UNSET
    incentive_points: int | None = UNSET
    hidden: list[str] | None = strawberry.field(
        default=UNSET, description="Values a trigger passes on that conditions may read."
    )
    targeting: SurveyTargetingInput | None = strawberry.field(
        default=UNSET, description="Replaces the whole targeting; null: everyone, any time."
    )

    def changes(self) -> dict[str, Any]:
        """The parts given, as the programme file's survey spells them (null: the default)."""
        given: dict[str, Any] = {}
        for name in ("title", "description", "incentive_points", "hidden"):
            value = getattr(self, name)
            if value is not UNSET and value is not None:
                given[name] = value
        if self.targeting is not UNSET:
            given["targeting"] = self.targeting.to_spec() if self.targeting else {}
        return given


@strawberry.input(description="A new survey; it is made as a draft.")
class CreateSurveyInput(SurveyFieldsInput):
    key: str
    title: str
    questions: JSON = strawberry.field(description=QUESTIONS_HELP)

    def definition(self) -> dict[str, Any]:
        return {**self.changes(), "key": self.key, "questions": self.questions}


@strawberry.input
class UpdateSurveyInput(SurveyFieldsInput):
    survey_id: strawberry.ID
    questions: JSON | None = strawberry.field(
        default=UNSET, description=QUESTIONS_HELP + " Replaces every question."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse the change when the survey is at another version."
    )

    def all_changes(self) -> dict[str, Any]:
        given = self.changes()
        if self.questions is not UNSET:
            given["questions"] = self.questions
        return given


@strawberry.input(description="Move a survey on: DRAFT → LIVE → PAUSED ⇄ LIVE → CLOSED.")
class SetSurveyStateInput:
    survey_id: strawberry.ID
    state: SurveyStatus
    expected_version: int | None = None
