"""Survey mutations: a member starts (or resumes) a survey and answers it."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.permissions import require_member
from api.surveys.inputs import AnswerSurveyInput, StartSurveyInput
from api.surveys.types import SurveyResponse
from loyalty.core.errors import DomainError


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
