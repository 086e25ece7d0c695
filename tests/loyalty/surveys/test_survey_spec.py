"""The `surveys:` section of the programme file: question kinds, logic, and logic that could
loop or reach a dead end refused with its place in the file."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.programme import ProgrammeFileError, parse_programme
from loyalty.storage.database import Database
from loyalty.surveys.models import Survey, SurveyVersion
from tests.loyalty.surveys.programme import HEADER, PROGRAMME, at, install_text


def problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ProgrammeFileError) as caught:
        parse_programme(text, "surveys.yaml")
    return [(p.path, p.line, p.message) for p in caught.value.problems]


def survey_with(questions: str) -> str:
    return (
        HEADER
        + "surveys:\n  definitions:\n    - key: s1\n      title: S\n      questions:\n"
        + questions
    )


def test_the_test_programme_loads_with_every_kind() -> None:
    section = parse_programme(PROGRAMME).surveys
    assert section.cooldown_days == 7 and section.expire_after_hours == 48
    [survey] = section.definitions
    kinds = [q.kind for q in survey.questions]
    assert kinds == ["nps", "text", "multiple_choice", "single_choice", "rating", "date"]
    assert survey.questions[0].logic[0].jump == "waarom"
    assert survey.questions[2].picks == (1, 2)
    assert survey.questions[4].range == (1, 5) and survey.questions[0].range == (0, 10)


def test_a_jump_back_is_a_loop_and_an_unknown_target_a_dead_end() -> None:
    text = survey_with(
        "        - key: een\n"
        "          prompt: A?\n"
        "          kind: nps\n"
        "        - key: twee\n"
        "          prompt: B?\n"
        "          kind: text\n"
        "          logic:\n"
        "            - if: {answer: een, op: greater_than, value: 5}\n"
        "              jump: een\n"
        "            - jump: nowhere\n"
    )
    found = problems(text)
    assert (
        "surveys.definitions[0].questions[1].logic[0].jump",
        20,
        "loop: 'een' is not after this question",
    ) in found
    assert (
        "surveys.definitions[0].questions[1].logic[1].jump",
        21,
        "dead end: there is no question 'nowhere' to jump to",
    ) in found


def test_conditions_read_only_what_is_known_by_then() -> None:
    text = survey_with(
        "        - key: een\n"
        "          prompt: A?\n"
        "          kind: single_choice\n"
        "          choices: [{key: ja, label: Ja}, {key: nee, label: Nee}]\n"
        "          logic:\n"
        "            - if:\n"
        "                all:\n"
        "                  - {answer: twee, op: is_answered}\n"
        "                  - any:\n"
        "                      - {answer: een, op: equals, value: misschien}\n"
        "                      - {hidden: store, op: equals, value: x}\n"
        "                      - {variable: fan, op: equals, value: true}\n"
        "              jump: end\n"
        "        - key: twee\n"
        "          prompt: B?\n"
        "          kind: text\n"
    )
    messages = {path: message for path, _, message in problems(text)}
    base = "surveys.definitions[0].questions[0].logic[0].if"
    assert "not an earlier question" in messages[f"{base}.all[0]"]
    assert messages[f"{base}.all[1].any[0].value"] == "'een' has no choice(s) misschien"
    assert "not listed in the survey's `hidden`" in messages[f"{base}.all[1].any[1]"]
    assert "not set by any earlier rule" in messages[f"{base}.all[1].any[2]"]


def test_a_question_no_path_reaches_is_a_dead_end() -> None:
    text = survey_with(
        "        - key: een\n"
        "          prompt: A?\n"
        "          kind: nps\n"
        "          logic:\n"
        "            - jump: drie\n"
        "        - key: twee\n"
        "          prompt: B?\n"
        "          kind: text\n"
        "        - key: drie\n"
        "          prompt: C?\n"
        "          kind: text\n"
    )
    assert problems(text) == [
        (
            "surveys.definitions[0].questions[1]",
            17,
            "dead end: no path through the logic reaches 'twee'",
        )
    ]


@pytest.mark.parametrize(
    ("question", "fragment"),
    [
        ("kind: single_choice\n          choices: [{key: aa, label: A}]", "at least two"),
        ("kind: rating\n          scale: {min: 5, max: 1}", "below its `max`"),
        ("kind: nps\n          scale: {min: 0, max: 5}", "only a rating question"),
        ("kind: text\n          max_length: 99999", "at most 4000"),
        (
            "kind: multiple_choice\n          max_picks: 3\n"
            "          choices: [{key: aa, label: A}, {key: bb, label: B}]",
            "exceeds the number of choices",
        ),
        ("kind: text\n          profile_field: birth_date", "needs a date question"),
        ("kind: date\n          logic:\n            - {}", "needs `jump`, `skip` or `set`"),
    ],
)
def test_questions_must_fit_their_kind(question: str, fragment: str) -> None:
    text = survey_with(f"        - key: vraag\n          prompt: Q?\n          {question}\n")
    assert any(fragment in message for _, _, message in problems(text))


async def test_sync_versions_changed_questions_and_closes_removed_surveys(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2025-06-04T12:00:00+02:00"))
    await install_text(db, clock)
    await install_text(db, clock)  # unchanged: no new version
    await install_text(db, clock, PROGRAMME.replace("Wat kan beter?", "Wat ging er mis?"))
    paused = PROGRAMME.replace("incentive_points: 25", "incentive_points: 25\n      state: paused")
    await install_text(db, clock, paused.replace("Wat kan beter?", "Wat ging er mis?"))
    async with db.unit_of_work(write=False) as uow:
        survey = await uow.session.scalar(select(Survey))
        assert survey is not None
        assert (survey.version, survey.state) == (2, "paused")
        versions = list(await uow.session.scalars(select(SurveyVersion.version)))
        assert sorted(versions) == [1, 2]
    await install_text(db, clock, HEADER)
    async with db.unit_of_work(write=False) as uow:
        assert await uow.session.scalar(select(Survey.state)) == "closed"
