"""Keeping the `surveys` table in step with the programme file, and reading a survey's
definition back.

New surveys are added; a survey whose definition changed gets the next version, with the
definition kept in `survey_versions` (responses in progress go on with the version they
started with); surveys no longer in the file are closed (never deleted: responses reference
them). Run by `install_programme`, in the same unit of work.
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

from loyalty.programme.store import current_settings
from loyalty.programme.surveys_spec import SurveySpec
from loyalty.surveys.models import Survey, SurveyVersion

PROGRAMME = "programme"
DRAFT, LIVE, PAUSED, CLOSED = "draft", "live", "paused", "closed"


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


def _questions(definition: dict[str, Any]) -> tuple[Any, Any]:
    """What a response depends on: the questions with their logic, and the hidden values."""
    return definition.get("questions"), definition.get("hidden")


def _changed(survey: Survey, values: dict[str, Any]) -> bool:
    return any(getattr(survey, name) != value for name, value in values.items())


async def sync_surveys(s: AsyncSession, specs: Sequence[SurveySpec], now: datetime) -> None:
    zone = (await current_settings(s)).zone
    existing = {
        row.key: row for row in await s.scalars(select(Survey).where(Survey.source == PROGRAMME))
    }
    for spec in specs:
        values = columns(spec, zone)
        survey = existing.pop(spec.key, None)
        if survey is None:
            survey = Survey(key=spec.key, version=1, source=PROGRAMME, created_at=now, **values)
            survey.updated_at = now
            s.add(survey)
        elif _changed(survey, values):
            new_questions = _questions(survey.definition) != _questions(values["definition"])
            for name, value in values.items():
                setattr(survey, name, value)
            survey.updated_at = now
            if not new_questions:
                continue  # only the state or dates changed: the same questions
            survey.version += 1
        else:
            continue
        await s.flush()
        s.add(
            SurveyVersion(
                survey_id=survey.id,
                version=survey.version,
                definition=survey.definition,
                changed_at=now,
            )
        )
    for survey in existing.values():
        if survey.state != CLOSED:
            survey.state = CLOSED
            survey.updated_at = now
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
