"""Surveys made and changed through the admin service: checked as the programme file checks
its surveys, made as drafts, moved draft → live → paused → closed, a changed definition of a
survey that was asked made a new version (responses keep theirs), every change recorded with
who made it; programme-file surveys change only through the file."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.storage.database import Database
from loyalty.surveys.admin import SurveyAdmin
from loyalty.surveys.answers import AnswerInput
from loyalty.surveys.errors import SurveysError
from loyalty.surveys.models import Survey, SurveyVersion
from loyalty.surveys.service import SurveysService
from tests.loyalty.services import add_member
from tests.loyalty.surveys.programme import HEADER, PROGRAMME, at, install_text

pytestmark = pytest.mark.asyncio

SEGMENTS = "segments:\n  - {key: fans, name: Fans, rules: {interests: [koffie]}}\n"


def questions(second_prompt: str = "Waarom?") -> list[dict[str, Any]]:
    return [
        {
            "key": "score",
            "prompt": "Raad je ons aan?",
            "kind": "nps",
            "logic": [{"if": {"answer": "score", "op": "less_than", "value": 7}, "jump": "waarom"}],
        },
        {"key": "waarom", "prompt": second_prompt, "kind": "text", "required": False},
    ]


def definition() -> dict[str, Any]:
    return {"key": "nieuw", "title": "Nieuw", "incentive_points": 5, "questions": questions()}


def refused(error: pytest.ExceptionInfo[DomainError]) -> list[tuple[str, str | None]]:
    problems = error.value.problems if isinstance(error.value, ValidationFailed) else [error.value]
    return [(str(p.code), p.field) for p in problems]


async def _count(db: Database) -> int:
    async with db.unit_of_work(write=False) as uow:
        return len(list(await uow.session.scalars(select(Survey.id))))


async def test_bad_surveys_are_refused_with_their_field_and_change_nothing(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2025-06-04T12:00:00+02:00"))
    await install_text(db, clock, PROGRAMME.replace("surveys:", SEGMENTS + "surveys:", 1))
    admin = SurveyAdmin(db, clock)
    before = await _count(db)
    loop = questions()
    loop[1]["logic"] = [{"jump": "score"}]
    dead = questions()
    dead[0]["logic"] = [{"jump": "end"}]
    nested = questions()
    nested[0]["logic"] = [{"if": {"any": [{"answer": "score", "op": "nope"}]}, "jump": "end"}]
    cases = [
        (
            {**definition(), "questions": loop},
            [("INVALID_SURVEY", "questions.1.logic.0.jump")],
        ),
        ({**definition(), "questions": dead}, [("INVALID_SURVEY", "questions.1")]),
        (
            {**definition(), "questions": nested},
            [("INVALID_SURVEY", "questions.0.logic.0.if.any.0.op")],
        ),
        (
            {**definition(), "targeting": {"segment": "onbekend"}},
            [("INVALID_SURVEY", "targeting.segment")],
        ),
        (
            {**definition(), "targeting": {"delay_hours": -1}},
            [("INVALID_SURVEY", "targeting.delayHours")],
        ),
        ({**definition(), "questions": []}, [("INVALID_SURVEY", "questions")]),
        ({**definition(), "key": "bezoek"}, [("SURVEY_KEY_TAKEN", "key")]),
    ]
    for given, expected in cases:
        with pytest.raises(DomainError) as error:
            await admin.create(given, "kantoor")
        assert refused(error) == expected, given
    assert await _count(db) == before
    made = await admin.create({**definition(), "targeting": {"segment": "fans"}}, "kantoor")
    assert (made.state, made.version, made.source) == ("draft", 1, "admin")


async def test_a_survey_through_its_life_with_versions_and_who_changed_it(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2025-06-04T12:00:00+02:00"))
    await install_text(db, clock, HEADER)
    admin = SurveyAdmin(db, clock)
    service = SurveysService(db, clock)
    first = await add_member(db, clock, "een@example.com")
    made = await admin.create(definition(), "kantoor")
    assert await service.surveys(first.id) == []  # a draft is asked of no one
    edited = await admin.update(made.id, {"title": "Nieuw!"}, "kantoor", expected_version=1)
    assert (edited.title, edited.version) == ("Nieuw!", 1)  # a draft is rewritten in place
    live = await admin.set_state(made.id, "live", "baas")
    assert [m.survey.key for m in await service.surveys(first.id)] == ["nieuw"]

    started = await service.start(first.id, live.id)
    step = await service.answer(first.id, started.response.id, AnswerInput("score", number=3))
    changed = await admin.update(made.id, {"questions": questions("Wat ging mis?")}, "kantoor")
    assert changed.version == 2
    # The response goes on with the questions it was given.
    assert step.current is not None and step.current.prompt == "Waarom?"
    resumed = await service.start(first.id, live.id)
    assert resumed.response.survey_version == 1 and resumed.current is not None
    assert resumed.current.prompt == "Waarom?"
    second = await add_member(db, clock, "twee@example.com")
    fresh = await service.start(second.id, live.id)
    assert fresh.response.survey_version == 2

    with pytest.raises(DomainError) as error:
        await admin.update(made.id, {"title": "Oud"}, "kantoor", expected_version=1)
    assert refused(error) == [("VERSION_CONFLICT", "expectedVersion")]
    await admin.set_state(made.id, "paused", "baas")
    with pytest.raises(DomainError) as error:
        await service.answer(first.id, started.response.id, AnswerInput("waarom", text="Koud"))
    assert error.value.code == SurveysError.SURVEY_CLOSED
    with pytest.raises(DomainError) as error:
        await admin.set_state(made.id, "draft", "baas")
    assert refused(error) == [("INVALID_STATE", "state")]
    await admin.set_state(made.id, "live", "baas")
    done = await service.answer(first.id, started.response.id, AnswerInput("waarom", text="Koud"))
    assert done.points_awarded == 5
    closed = await admin.set_state(made.id, "closed", "baas")
    assert closed.state == "closed"
    with pytest.raises(DomainError) as error:
        await admin.update(made.id, {"title": "Weer open"}, "kantoor")
    assert refused(error) == [("SURVEY_CLOSED", "surveyId")]

    history = [(c.kind, c.version, c.state, c.actor) for c in await admin.changes(made.id)]
    assert history == [
        ("created", 1, "draft", "kantoor"),
        ("changed", 1, "draft", "kantoor"),
        ("state", 1, "live", "baas"),
        ("changed", 2, "live", "kantoor"),
        ("state", 2, "paused", "baas"),
        ("state", 2, "live", "baas"),
        ("state", 2, "closed", "baas"),
    ]
    async with db.unit_of_work(write=False) as uow:
        versions = await uow.session.scalars(
            select(SurveyVersion).where(SurveyVersion.survey_id == made.id)
        )
        prompts = {v.version: v.definition["questions"][1]["prompt"] for v in versions}
    assert prompts == {1: "Waarom?", 2: "Wat ging mis?"}


async def test_programme_surveys_change_only_through_the_file(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2025-06-04T12:00:00+02:00"))
    await install_text(db, clock)
    admin = SurveyAdmin(db, clock)
    async with db.unit_of_work(write=False) as uow:
        from_file = await uow.session.scalar(select(Survey).where(Survey.key == "bezoek"))
    assert from_file is not None
    for change in (
        admin.update(from_file.id, {"title": "Anders"}, "kantoor"),
        admin.set_state(from_file.id, "paused", "kantoor"),
    ):
        with pytest.raises(DomainError) as error:
            await change
        assert refused(error) == [("SURVEY_FROM_PROGRAMME", "surveyId")]
    with pytest.raises(DomainError) as error:
        await admin.update(10_000, {"title": "Niets"}, "kantoor")
    assert refused(error) == [("SURVEY_NOT_FOUND", "surveyId")]
    assert [(c.kind, c.actor) for c in await admin.changes(from_file.id)] == [
        ("created", "programme")
    ]

    # A key the admin API holds cannot come in through the file.
    await admin.create(definition(), "kantoor")
    clash = PROGRAMME.replace("key: bezoek", "key: nieuw")
    with pytest.raises(DomainError) as error:
        await install_text(db, clock, clash)
    assert error.value.code == SurveysError.SURVEY_KEY_TAKEN
