"""What the back office's CSV downloads share (`/admin/…csv`): the admin key check, the
object's id in the path, and errors as JSON with a stable code."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.core.context import authenticate
from api.core.ids import row_id
from api.core.services import Services
from loyalty.auth.apikeys import Integration
from loyalty.core.errors import DomainError


def problem(status: int, code: str, message: str) -> Response:
    return JSONResponse({"code": code, "message": message}, status_code=status)


async def refused_unless_admin(request: Request) -> Response | None:
    """The answer for a caller without an API key of the `admin` scope, or None."""
    services: Services = request.app.state.services
    try:
        principal = await authenticate(services, request.headers.get("authorization"))
    except DomainError as exc:
        return problem(401, str(exc.code), exc.message)
    if principal is None:
        return problem(401, "UNAUTHENTICATED", "Send an API key with the `admin` scope")
    if not isinstance(principal, Integration) or not principal.allows("admin"):
        return problem(403, "FORBIDDEN", "Needs an API key with the `admin` scope")
    return None


def path_row_id(request: Request, parameter: str, type_name: str) -> int:
    """The row id of the `type_name` global id in the path; 0 (matching nothing) otherwise."""
    services: Services = request.app.state.services
    global_id = services.ids.parse(request.path_params[parameter]) if services.ids else None
    if global_id is None or global_id.type_name != type_name:
        return 0
    return row_id(global_id.node_id)


def csv_download(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
