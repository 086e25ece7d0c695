"""Checking an answer against its question: the value the logic and the results read, or
the first problem with it (a `DomainError` with the area's code)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from loyalty.core.errors import DomainError
from loyalty.core.text import has_control_characters
from loyalty.programme.surveys_spec import QuestionSpec
from loyalty.surveys.errors import SurveysError

# What an answer holds once checked: a choice key, choice keys, a score, a text or an ISO date.
Checked = str | list[str] | int | None


@dataclass(frozen=True)
class AnswerInput:
    """What the app sends for the current question; at most one kind of value is given."""

    question: str
    choices: list[str] = field(default_factory=list)
    number: int | None = None
    text: str | None = None
    day: date | None = None


def _refuse(code: SurveysError, message: str, field_name: str = "answer") -> DomainError:
    return DomainError(code, message, field_name)


def _given(answer: AnswerInput) -> list[str]:
    kinds = {
        "choiceIds": bool(answer.choices),
        "number": answer.number is not None,
        "text": answer.text is not None and answer.text.strip() != "",
        "date": answer.day is not None,
    }
    return [name for name, present in kinds.items() if present]


_TAKES = {
    "single_choice": "choiceIds",
    "multiple_choice": "choiceIds",
    "rating": "number",
    "nps": "number",
    "text": "text",
    "date": "date",
}


def check_answer(question: QuestionSpec, answer: AnswerInput) -> Checked:
    """The checked value; None when an optional question is passed by."""
    wanted = _TAKES[question.kind]
    given = _given(answer)
    if any(kind != wanted for kind in given):
        raise _refuse(
            SurveysError.WRONG_ANSWER_KIND,
            f"This question is answered with `{wanted}`",
            next(kind for kind in given if kind != wanted),
        )
    if not given:
        if question.required:
            raise _refuse(SurveysError.ANSWER_REQUIRED, "This question needs an answer", wanted)
        return None
    if wanted == "choiceIds":
        return _choices(question, answer.choices)
    if wanted == "number":
        return _score(question, answer.number)
    if wanted == "text":
        return _text(question, answer.text or "")
    assert answer.day is not None
    return answer.day.isoformat()


def _choices(question: QuestionSpec, picked: list[str]) -> str | list[str]:
    known = {c.key for c in question.choices}
    unknown = [p for p in picked if p not in known]
    if unknown:
        raise _refuse(SurveysError.UNKNOWN_CHOICE, "There is no such choice", "choiceIds")
    unique = list(dict.fromkeys(picked))
    if question.kind == "single_choice":
        if len(unique) > 1:
            raise _refuse(SurveysError.TOO_MANY_PICKS, "Pick one choice", "choiceIds")
        return unique[0]
    low, high = question.picks
    if len(unique) > high:
        raise _refuse(SurveysError.TOO_MANY_PICKS, f"Pick at most {high}", "choiceIds")
    if len(unique) < low:
        raise _refuse(SurveysError.TOO_FEW_PICKS, f"Pick at least {low}", "choiceIds")
    # In the question's order, so equal answers look equal.
    return [c.key for c in question.choices if c.key in unique]


def _score(question: QuestionSpec, number: int | None) -> int:
    low, high = question.range
    if number is None or not low <= number <= high:
        raise _refuse(SurveysError.OUT_OF_RANGE, f"Give a number from {low} to {high}", "number")
    return number


def _text(question: QuestionSpec, text: str) -> str:
    text = unicodedata.normalize("NFC", text.strip())
    if has_control_characters(text):
        raise _refuse(SurveysError.INVALID_TEXT, "The text has control characters", "text")
    if len(text) > question.max_length:
        raise _refuse(
            SurveysError.TEXT_TOO_LONG,
            f"At most {question.max_length} characters",
            "text",
        )
    return text


def stored(value: Checked) -> dict[str, Any]:
    return {"value": value}
