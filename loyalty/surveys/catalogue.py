"""Keeping the `surveys` table in step with the programme file, and reading a survey's
definition back.

New surveys are added; a survey whose definition changed gets the next version, with the
definition kept in `survey_versions` (responses in progress go on with the version they
started with); surveys no longer in the file are closed (never deleted: responses reference
them). Run by `install_programme`, in the same unit of work. The admin API's surveys
(`admin.py`) change through the same functions, and every change is noted in
`survey_changes` with who made it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError
from loyalty.programme.store import current_settings
from loyalty.programme.surveys_spec import SurveySpec
from loyalty.surveys.errors import SurveysError
from loyalty.surveys.models import Survey, SurveyChange, SurveyResponse, SurveyVersion

PROGRAMME, ADMIN = "programme", "admin"
DRAFT, LIVE, PAUSED, CLOSED = "draft", "live", "paused", "closed"
# What a change did (`survey_changes.kind`).
CREATED, CHANGED, STATE = "created", "changed", "state"


def _aware(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


def columns(spec: SurveySpec, zone: ZoneInfo) -> dict[str, Any]:
    """A survey's columns as the programme file sets them."""
    return {
        "state": spec.state,
        "title": spec.title,
        "description": spec.description,
        "incentive_points": spec.incentive_points,
        "definition": spec.model_dump(mode="json", by_alias=True),
        "starts_at": _aware(spec.targeting.starts, zone),
        "ends_at": _aware(spec.targeting.ends, zone),
    }


def record_change(s: AsyncSession, survey: Survey, kind: str, actor: str, now: datetime) -> None:
    """Note a change to the survey with who made it (flush first: it needs the id)."""
    s.add(
        SurveyChange(
            survey_id=survey.id,
            kind=kind,
            version=survey.version,
            state=survey.state,
            actor=actor,
            changed_at=now,
        )
    )


def _content(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition but its state: what a new version is made for."""
    return {name: value for name, value in definition.items() if name != "state"}


async def _asked(s: AsyncSession, survey: Survey) -> bool:
    """Whether any response was given the survey's current version."""
    found = await s.scalar(
        select(SurveyResponse.id)
        .where(
            SurveyResponse.survey_id == survey.id, SurveyResponse.survey_version == survey.version
        )
        .limit(1)
    )
    return found is not None


async def add_survey(
    s: AsyncSession,
    spec: SurveySpec,
    values: dict[str, Any],
    source: str,
    actor: str,
    now: datetime,
) -> Survey:
    """A new survey at version 1 with its columns `values` (see `columns`)."""
    survey = Survey(key=spec.key, version=1, source=source, created_at=now, **values)
    survey.updated_at = now
    s.add(survey)
    await s.flush()
    s.add(
        SurveyVersion(survey_id=survey.id, version=1, definition=survey.definition, changed_at=now)
    )
    record_change(s, survey, CREATED, actor, now)
    return survey


async def apply_values(
    s: AsyncSession, survey: Survey, values: dict[str, Any], actor: str, now: datetime
) -> bool:
    """Bring the survey to `values` (see `columns`); False when nothing changed.

    A changed definition makes the next version, kept in `survey_versions` (responses keep
    the version they were given); a draft that no one was asked is rewritten in place."""
    if not any(getattr(survey, name) != value for name, value in values.items()):
        return False
    before = survey.state
    new_content = _content(survey.definition) != _content(values["definition"])
    in_place = new_content and before == DRAFT and not await _asked(s, survey)
    for name, value in values.items():
        setattr(survey, name, value)
    survey.updated_at = now
    if in_place:
        kept = await s.get(SurveyVersion, (survey.id, survey.version))
        assert kept is not None, "every version of a survey is kept"
        kept.definition, kept.changed_at = survey.definition, now
    elif new_content:
        survey.version += 1
        s.add(
            SurveyVersion(
                survey_id=survey.id,
                version=survey.version,
                definition=survey.definition,
                changed_at=now,
            )
        )
    if new_content:
        record_change(s, survey, CHANGED, actor, now)
    if survey.state != before:
        record_change(s, survey, STATE, actor, now)
    await s.flush()
    return True


async def _refuse_admin_keys(s: AsyncSession, keys: list[str]) -> None:
    if not keys:
        return
    taken = await s.scalar(
        select(Survey.key).where(Survey.key.in_(keys), Survey.source != PROGRAMME).limit(1)
    )
    if taken is not None:
        raise DomainError(
            SurveysError.SURVEY_KEY_TAKEN,
            f"survey key {taken} is already used by a survey made through the admin API",
            "surveys",
        )


async def sync_surveys(s: AsyncSession, specs: Sequence[SurveySpec], now: datetime) -> None:
    zone = (await current_settings(s)).zone
    existing = {
        row.key: row for row in await s.scalars(select(Survey).where(Survey.source == PROGRAMME))
    }
    await _refuse_admin_keys(s, [spec.key for spec in specs if spec.key not in existing])
    for spec in specs:
        values = columns(spec, zone)
        survey = existing.pop(spec.key, None)
        if survey is None:
            await add_survey(s, spec, values, PROGRAMME, PROGRAMME, now)
        else:
            await apply_values(s, survey, values, PROGRAMME, now)
    for survey in existing.values():
        if survey.state != CLOSED:
            survey.state = CLOSED
            survey.definition = {**survey.definition, "state": CLOSED}
            survey.updated_at = now
            record_change(s, survey, STATE, PROGRAMME, now)
    await s.flush()


@lru_cache(maxsize=512)
def _parsed(text: str) -> SurveySpec:
    return SurveySpec.model_validate_json(text)


def spec_of(definition: dict[str, Any]) -> SurveySpec:
    """A stored definition as the spec it was written from (parsed once per version)."""
    return _parsed(json.dumps(definition, sort_keys=True))


async def version_spec(s: AsyncSession, survey_id: int, version: int) -> SurveySpec:
    row = await s.get(SurveyVersion, (survey_id, version))
    assert row is not None, "every version of a survey is kept"
    return spec_of(row.definition)
