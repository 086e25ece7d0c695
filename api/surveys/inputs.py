"""Inputs of surveys: starting one, and answering its current question."""

from __future__ import annotations

from datetime import date

import strawberry

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
