"""`GET /admin/surveys/{surveyId}/answers.csv`: a survey's free-text answers as CSV, for the
back office (an API key with the `admin` scope, sent as `Authorization: Bearer trw_…`).
`surveyId` is the survey's global id, as the admin API gives it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.core.context import authenticate
from api.core.ids import row_id
from api.core.services import Services
from loyalty.auth.apikeys import Integration
from loyalty.core.errors import DomainError
from loyalty.surveys.results import as_csv


def _problem(status: int, code: str, message: str) -> Response:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _survey_id(services: Services, raw: str) -> int:
    global_id = services.ids.parse(raw) if services.ids else None
    if global_id is None:
        return 0
    return row_id(global_id.node_id) if global_id.type_name == "Survey" else 0


async def free_text_csv(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        principal = await authenticate(services, request.headers.get("authorization"))
    except DomainError as exc:
        return _problem(401, str(exc.code), exc.message)
    if principal is None:
        return _problem(401, "UNAUTHENTICATED", "Send an API key with the `admin` scope")
    if not isinstance(principal, Integration) or not principal.allows("admin"):
        return _problem(403, "FORBIDDEN", "Needs an API key with the `admin` scope")
    survey_id = _survey_id(services, request.path_params["survey_id"])
    survey = await services.surveys.survey(survey_id) if survey_id else None
    if survey is None:
        return _problem(404, "NOT_FOUND", "There is no such survey")
    text = as_csv(survey.key, await services.surveys.free_text(survey.id))
    disposition = f'attachment; filename="{survey.key}-answers.csv"'
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )
