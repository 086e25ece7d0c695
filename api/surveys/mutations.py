"""Survey mutations: a member starts (or resumes) a survey and answers it; the back office
(admin scope) makes surveys and changes those it made."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.permissions import require_member, require_scope
from api.surveys.inputs import (
    AnswerSurveyInput,
    CreateSurveyInput,
    SetSurveyStateInput,
    StartSurveyInput,
    UpdateSurveyInput,
)
from api.surveys.types import Survey, SurveyResponse
from loyalty.core.errors import DomainError

if TYPE_CHECKING:
    from loyalty.surveys.models import Survey as SurveyRow


@strawberry.type
class StartSurveyPayload:
    response: SurveyResponse | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AnswerSurveyPayload:
    response: SurveyResponse | None = None
    points_awarded: int = strawberry.field(
        default=0, description="Incentive points this answer earned (the last answer only)."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SurveyMutations:
    @strawberry.mutation(
        description="Start a survey, or resume it where the member left it (on any device)."
    )
    async def start_survey(
        self, info: Info[Context, None], input: StartSurveyInput
    ) -> StartSurveyPayload:
        principal = require_member(info)
        survey_id = ids.decode(input.survey_id, "Survey", "surveyId")
        try:
            view = await info.context.services.surveys.start(principal.member_id, survey_id)
        except DomainError as exc:
            return StartSurveyPayload(user_errors=user_errors(exc))
        return StartSurveyPayload(response=SurveyResponse.of_view(view))

    @strawberry.mutation(
        description="Answer the current question; the logic picks the next. The last answer "
        "completes the survey and awards its points, once."
    )
    async def answer_survey(
        self, info: Info[Context, None], input: AnswerSurveyInput
    ) -> AnswerSurveyPayload:
        principal = require_member(info)
        response_id = input.response()
        try:
            view = await info.context.services.surveys.answer(
                principal.member_id, response_id, input.to_domain()
            )
        except DomainError as exc:
            return AnswerSurveyPayload(user_errors=user_errors(exc))
        return AnswerSurveyPayload(
            response=SurveyResponse.of_view(view), points_awarded=view.points_awarded
        )


@strawberry.type
class SurveyPayload:
    survey: Survey | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _changed(change: Awaitable[SurveyRow]) -> SurveyPayload:
    try:
        return SurveyPayload(survey=Survey.of_row(await change, "not_available"))
    except DomainError as exc:
        return SurveyPayload(user_errors=user_errors(exc))


@strawberry.type
class SurveyAdminMutations:
    @strawberry.mutation(
        description="Make a survey (admin), as a draft; it is checked as the programme "
        "file's surveys are (logic that loops or reaches a dead end, unknown segments)."
    )
    async def create_survey(
        self, info: Info[Context, None], input: CreateSurveyInput
    ) -> SurveyPayload:
        actor = require_scope(info, "admin").name
        return await _changed(info.context.services.survey_admin.create(input.definition(), actor))

    @strawberry.mutation(
        description="Change a survey made through this API (admin): the parts given change, "
        "the rest stays. Once it was asked, a changed definition is a new version; responses "
        "keep theirs."
    )
    async def update_survey(
        self, info: Info[Context, None], input: UpdateSurveyInput
    ) -> SurveyPayload:
        actor = require_scope(info, "admin").name
        survey_id = ids.decode(input.survey_id, "Survey", "surveyId")
        change = info.context.services.survey_admin.update(
            survey_id, input.all_changes(), actor, input.expected_version
        )
        return await _changed(change)

    @strawberry.mutation(
        description="Put a survey made through this API live, pause or close it (admin)."
    )
    async def set_survey_state(
        self, info: Info[Context, None], input: SetSurveyStateInput
    ) -> SurveyPayload:
        actor = require_scope(info, "admin").name
        survey_id = ids.decode(input.survey_id, "Survey", "surveyId")
        change = info.context.services.survey_admin.set_state(
            survey_id, input.state.value, actor, input.expected_version
        )
        return await _changed(change)
