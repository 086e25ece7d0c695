"""`GET /privacy/exports/{token}`: a data export as JSON. The token in the link is the only
authorisation (it is long, random, single-purpose and expires); only its hash is stored."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.core.services import Services
from loyalty.privacy.export import export_json


async def data_export(request: Request) -> Response:
    services: Services = request.app.state.services
    token = request.path_params["token"]
    document = None
    if services.privacy is not None and 20 <= len(token) <= 100 and token.isascii():
        document = await services.privacy.download(token)
    if document is None:
        return JSONResponse(
            {"code": "NOT_FOUND", "message": "There is no such export, or it has expired"},
            status_code=404,
        )
    return Response(
        export_json(document),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="trouw-data.json"',
            "Cache-Control": "no-store",
        },
    )
