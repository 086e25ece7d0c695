"""`GET /admin/surveys/{surveyId}/answers.csv`: a survey's free-text answers as CSV, for the
back office (an API key with the `admin` scope, sent as `Authorization: Bearer trw_…`).
`surveyId` is the survey's global id, as the admin API gives it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.core.downloads import csv_download, path_row_id, problem, refused_unless_admin
from api.core.services import Services
from loyalty.surveys.results import as_csv


async def free_text_csv(request: Request) -> Response:
    refused = await refused_unless_admin(request)
    if refused is not None:
        return refused
    services: Services = request.app.state.services
    survey_id = path_row_id(request, "survey_id", "Survey")
    survey = await services.surveys.survey(survey_id) if survey_id else None
    if survey is None:
        return problem(404, "NOT_FOUND", "There is no such survey")
    text = as_csv(survey.key, await services.surveys.free_text(survey.id))
    return csv_download(text, f"{survey.key}-answers.csv")
