"""Surveys that programme managers make and change through the admin API.

An admin survey is checked exactly as the programme file's `surveys:` section is (the same
`SurveySpec`, and the whole file validated with the survey added to it, so the logic's loop
and dead-end checks and the segment reference run), so the API cannot make a survey the file
would refuse. A survey is made as a draft and moves draft → live → paused → closed (paused
and live back and forth; closed for good). A changed definition of a survey that was asked
makes the next version; every change is noted in `survey_changes` with the API key's name.
Surveys from the programme file change only through the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.programme.api_input import camel, message_of
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.programme.surveys_spec import SurveySpec
from loyalty.storage.database import Database
from loyalty.surveys.catalogue import (
    ADMIN,
    CLOSED,
    DRAFT,
    LIVE,
    PAUSED,
    PROGRAMME,
    add_survey,
    apply_values,
    columns,
)
from loyalty.surveys.errors import SurveysError
from loyalty.surveys.models import Survey, SurveyChange

# Which state may follow which; the same state again changes nothing.
NEXT_STATES = {
    DRAFT: {DRAFT, LIVE, CLOSED},
    LIVE: {LIVE, PAUSED, CLOSED},
    PAUSED: {PAUSED, LIVE, CLOSED},
}
# Discriminator tags pydantic puts in a condition's location; not part of the path.
_TAGS = {"leaf", "all", "any"}


def field_path(loc: Sequence[str | int]) -> str | None:
    """A pydantic location as the input's field path: `targeting.delayHours`, or inside the
    `questions` document (spelled as the programme file spells it) `questions.1.logic.0.jump`."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        before = loc[index - 1] if index else None
        # A condition's tag comes right after `if`, or after an index into `all`/`any`.
        in_group = isinstance(before, int) and index >= 2 and loc[index - 2] in ("all", "any")
        if part in _TAGS and (before == "if" or in_group):
            continue
        parts.append(str(part))
    if not parts:
        return None
    if parts[0] != "questions":
        parts = [camel(p) for p in parts]
    return ".".join(parts)


def _problem(error: ErrorDetails | Mapping[str, Any], loc: Sequence[str | int]) -> DomainError:
    return DomainError(SurveysError.INVALID_SURVEY, message_of(error), field_path(loc))


def validated(definition: Mapping[str, Any]) -> SurveySpec:
    """The definition as the programme file's survey, or every problem with it."""
    try:
        return SurveySpec.model_validate(dict(definition))
    except ValidationError as exc:
        raise ValidationFailed([_problem(e, e["loc"]) for e in exc.errors()]) from None


def check_in_programme(spec: SurveySpec, file: ProgrammeFile) -> None:
    """Refuse what the programme file would refuse with this survey in it: logic that loops
    or reaches a dead end, a segment the file does not have."""
    data = file.model_dump(mode="json")
    definitions = [*data["surveys"]["definitions"], spec.model_dump(mode="json", by_alias=True)]
    index = len(definitions) - 1
    try:
        ProgrammeFile.model_validate(
            {**data, "surveys": {**data["surveys"], "definitions": definitions}}
        )
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = tuple(e["loc"])
            mine = loc[:3] == ("surveys", "definitions", index)
            problems.append(_problem(e, loc[3:] if mine else ()))
        raise ValidationFailed(problems) from None


class SurveyAdmin:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(self, definition: Mapping[str, Any], actor: str) -> Survey:
        """A new draft survey from its definition (the programme file's fields)."""
        spec = validated({**definition, "state": DRAFT})
        now = self.clock.now()
        try:
            async with self.db.unit_of_work() as uow:
                s = uow.session
                if await s.scalar(select(Survey.id).where(Survey.key == spec.key)) is not None:
                    raise _key_taken(spec.key)
                file = await current_file(s)
                check_in_programme(spec, file)
                values = columns(spec, file.programme.zone)
                survey = await add_survey(s, spec, values, ADMIN, actor, now)
                await uow.commit()
        except IntegrityError:
            raise _key_taken(spec.key) from None  # made at the same moment by another request
        return survey

    async def update(
        self,
        survey_id: int,
        changes: Mapping[str, Any],
        actor: str,
        expected_version: int | None = None,
    ) -> Survey:
        """Change the given parts of the definition; the rest stays as it was."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            survey = await _editable(s, survey_id, expected_version)
            if "key" in changes and changes["key"] != survey.key:
                raise DomainError(SurveysError.INVALID_SURVEY, "A survey's key stays", "key")
            spec = validated({**survey.definition, **changes, "state": survey.state})
            file = await current_file(s)
            check_in_programme(spec, file)
            await apply_values(s, survey, columns(spec, file.programme.zone), actor, now)
            await uow.commit()
        return survey

    async def set_state(
        self, survey_id: int, state: str, actor: str, expected_version: int | None = None
    ) -> Survey:
        """Put a survey live, pause or close it; going live checks it against the file again
        (a segment it names may have gone since it was made)."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            survey = await _editable(s, survey_id, expected_version)
            if state not in NEXT_STATES[survey.state]:
                raise DomainError(
                    SurveysError.INVALID_STATE,
                    f"A survey that is {survey.state} cannot become {state}",
                    "state",
                )
            spec = validated({**survey.definition, "state": state})
            file = await current_file(s)
            if state == LIVE:
                check_in_programme(spec, file)
            await apply_values(s, survey, columns(spec, file.programme.zone), actor, now)
            await uow.commit()
        return survey

    async def changes(self, survey_id: int) -> list[SurveyChange]:
        """Every change to the survey, oldest first, with who made it."""
        async with self.db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(
                select(SurveyChange)
                .where(SurveyChange.survey_id == survey_id)
                .order_by(SurveyChange.id)
            )
            return list(rows)


async def _editable(s: AsyncSession, survey_id: int, expected_version: int | None) -> Survey:
    survey = await s.get(Survey, survey_id, with_for_update=True, populate_existing=True)
    if survey is None:
        raise DomainError(SurveysError.SURVEY_NOT_FOUND, "There is no such survey", "surveyId")
    if survey.source == PROGRAMME:
        raise DomainError(
            SurveysError.SURVEY_FROM_PROGRAMME,
            "This survey comes from the programme file: change it there",
            "surveyId",
        )
    if survey.state == CLOSED:
        raise DomainError(SurveysError.SURVEY_CLOSED, "This survey is closed", "surveyId")
    if expected_version is not None and expected_version != survey.version:
        raise DomainError(
            SurveysError.VERSION_CONFLICT,
            f"The survey is at version {survey.version} now, not {expected_version}",
            "expectedVersion",
        )
    return survey


def _key_taken(key: str) -> DomainError:
    return DomainError(SurveysError.SURVEY_KEY_TAKEN, f"The key {key} is taken", "key")
