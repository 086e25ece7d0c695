"""`GET /admin/campaigns/{campaignId}/report.csv`: a campaign's evaluation (outcomes with
uplift and interval, guardrails, the sample-ratio check) as CSV, for the back office (an
API key with the `admin` scope, sent as `Authorization: Bearer trw_…`). `campaignId` is the
campaign's global id, as the admin API gives it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.core.context import authenticate
from api.core.ids import row_id
from api.core.services import Services
from loyalty.auth.apikeys import Integration
from loyalty.campaigns.errors import CampaignsError
from loyalty.core.errors import DomainError


def _problem(status: int, code: str, message: str) -> Response:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _campaign_id(services: Services, raw: str) -> int:
    global_id = services.ids.parse(raw) if services.ids else None
    if global_id is None or global_id.type_name != "Campaign":
        return 0
    return row_id(global_id.node_id)


async def report_csv(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        principal = await authenticate(services, request.headers.get("authorization"))
    except DomainError as exc:
        return _problem(401, str(exc.code), exc.message)
    if principal is None:
        return _problem(401, "UNAUTHENTICATED", "Send an API key with the `admin` scope")
    if not isinstance(principal, Integration) or not principal.allows("admin"):
        return _problem(403, "FORBIDDEN", "Needs an API key with the `admin` scope")
    campaign_id = _campaign_id(services, request.path_params["campaign_id"])
    try:
        key, text = await services.campaigns.report_csv(campaign_id)
    except DomainError as exc:
        if exc.code != CampaignsError.CAMPAIGN_NOT_FOUND:
            raise
        return _problem(404, "NOT_FOUND", "There is no such campaign")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{key}-report.csv"',
            "Cache-Control": "no-store",
        },
    )
