"""GraphQL over HTTP's two response types: `application/graphql-response+json` for clients that
accept it, with status 400 and no `data` entry when a request fails before execution (it does
not parse, does not validate, or its variables do not fit), and `application/json` with 200
for every result otherwise, which older clients expect."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

GRAPHQL_RESPONSE = "application/graphql-response+json"
# Carries the finding from `process_result` to `create_response`; never sent.
_FAILED = "trouw.failedBeforeExecution"


def accepts_graphql_response(accept: str | None) -> bool:
    """Whether the client lists the GraphQL response type (without refusing it with q=0)."""
    for part in (accept or "").split(","):
        media, *parameters = (item.strip() for item in part.split(";"))
        if media.lower() == GRAPHQL_RESPONSE:
            return not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00") for p in parameters)
    return False


def failed_before_execution(result: ExecutionResult) -> bool:
    """No data and only errors outside any field: the document or its variables were refused.
    (An error inside a field has a path, and then the response is a partial result.)"""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


class SubResponse(Response):
    """What a request's handling learns on the way to its response."""

    graphql_response: bool = False
    failed_before_execution: bool = False


class ResponseMedia:
    """Mixed into the GraphQL view before Strawberry's ASGI view."""

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub = SubResponse()
        sub.status_code = None  # type: ignore[assignment]  # None: the view's default
        del sub.headers["content-length"]
        sub.graphql_response = accepts_graphql_response(request.headers.get("accept"))
        return sub

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        processed = await super().process_result(request, result)  # type: ignore[misc]
        if failed_before_execution(result):
            processed[_FAILED] = True
        return processed

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        # Batches are not enabled (Strawberry refuses them), so the data is one result.
        assert not isinstance(response_data, list)
        failed = bool(response_data.pop(_FAILED, False))  # type: ignore[misc]
        graphql_response = isinstance(sub_response, SubResponse) and sub_response.graphql_response
        if graphql_response and failed:
            response_data.pop("data", None)
        response: Response = super().create_response(response_data, sub_response)  # type: ignore[misc]
        if graphql_response:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            if failed:
                response.status_code = 400
        return response
