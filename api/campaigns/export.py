"""`GET /admin/campaigns/{campaignId}/report.csv`: a campaign's evaluation (outcomes with
uplift and interval, guardrails, the sample-ratio check) as CSV, for the back office (an
API key with the `admin` scope, sent as `Authorization: Bearer trw_…`). `campaignId` is the
campaign's global id, as the admin API gives it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.core.downloads import csv_download, path_row_id, problem, refused_unless_admin
from api.core.services import Services
from loyalty.campaigns.errors import CampaignsError
from loyalty.core.errors import DomainError


async def report_csv(request: Request) -> Response:
    refused = await refused_unless_admin(request)
    if refused is not None:
        return refused
    services: Services = request.app.state.services
    try:
        key, text = await services.campaigns.report_csv(
            path_row_id(request, "campaign_id", "Campaign")
        )
    except DomainError as exc:
        if exc.code != CampaignsError.CAMPAIGN_NOT_FOUND:
            raise
        return problem(404, "NOT_FOUND", "There is no such campaign")
    return csv_download(text, f"{key}-report.csv")
