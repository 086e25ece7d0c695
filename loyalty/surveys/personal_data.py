"""What surveys holds about a member: responses with their answers, surveys made due for them
and the profile fields answers filled in.

On erasure the answers that are the member's own words or dates (text and date questions) and
the profile fields copied from answers are deleted, and the hidden values a trigger passed on
are emptied; choices, ratings and NPS scores stay, so the results do not change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.personal_data import (
    Holding,
    PersonalDataRegistry,
    delete_rows,
    rows_as_dicts,
    rows_of,
)
from loyalty.surveys.catalogue import spec_of
from loyalty.surveys.models import (
    ProfileUpdate,
    Survey,
    SurveyAnswer,
    SurveyResponse,
    SurveyTrigger,
)

_OWN_WORDS = ("text", "date")


async def _responses(session: AsyncSession, member_id: int) -> Any:
    found = list(
        await session.scalars(
            select(SurveyResponse)
            .where(SurveyResponse.member_id == member_id)
            .order_by(SurveyResponse.id)
        )
    )
    answers = list(
        await session.scalars(
            select(SurveyAnswer)
            .where(SurveyAnswer.response_id.in_([r.id for r in found]))
            .order_by(SurveyAnswer.response_id, SurveyAnswer.position)
        )
    )
    out = rows_as_dicts(found, ("member_id", "open_key"))
    for response in out:
        response["answers"] = rows_as_dicts(
            [a for a in answers if a.response_id == response["id"]], ("response_id",)
        )
    return out


async def _erase_responses(session: AsyncSession, member_id: int, now: datetime) -> None:
    responses = list(
        await session.execute(
            select(SurveyResponse.id, SurveyResponse.survey_id).where(
                SurveyResponse.member_id == member_id
            )
        )
    )
    for survey_id in {row.survey_id for row in responses}:
        survey = await session.get(Survey, survey_id)
        if survey is None:
            continue
        own = [q.key for q in spec_of(survey.definition).questions if q.kind in _OWN_WORDS]
        ids = [row.id for row in responses if row.survey_id == survey_id]
        await session.execute(
            delete(SurveyAnswer).where(
                SurveyAnswer.response_id.in_(ids), SurveyAnswer.question.in_(own)
            )
        )
    await session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.member_id == member_id)
        .values(variables={}, hidden={}, open_key=None)
    )


async def _erase_triggers(session: AsyncSession, member_id: int, now: datetime) -> None:
    await session.execute(
        update(SurveyTrigger).where(SurveyTrigger.member_id == member_id).values(hidden={})
    )


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "surveys",
            "surveyResponses",
            ("survey_responses", "survey_answers"),
            _responses,
            _erase_responses,
            erasure="text and date answers deleted, hidden values emptied; choices and scores kept",
        )
    )
    registry.add(
        Holding(
            "surveys",
            "surveyTriggers",
            ("survey_triggers",),
            rows_of(SurveyTrigger),
            _erase_triggers,
            erasure="kept, hidden values emptied",
        )
    )
    registry.add(
        Holding(
            "surveys",
            "surveyProfileFields",
            ("survey_profile_updates",),
            rows_of(ProfileUpdate),
            delete_rows(ProfileUpdate),
            erasure="deleted",
        )
    )
