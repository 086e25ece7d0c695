"""The app factory: the Starlette app around the GraphQL endpoint, with what `trouw serve`
runs beside it (built by the composition root, `api/wiring.py`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult

from api.campaigns.export import report_csv
from api.core import ids
from api.core.client_address import trusted_networks
from api.core.context import Context, apply_credentials
from api.core.graphiql import ASSETS_PATH, OfflineGraphiQL, graphiql_assets
from api.core.headers import SecurityHeaders
from api.core.loaders import Loaders
from api.core.media import ResponseMedia
from api.core.metrics import (
    CountWebsockets,
    MeasuredOperations,
    metrics_endpoint,
    operation_names,
)
from api.core.persisted import PersistedDocuments, Refused
from api.core.request_ids import RequestIds, note_operation
from api.core.request_scope import RequestScopes
from api.core.services import Services
from api.core.tracing import trace_app
from api.live.transport import LiveTransport
from api.privacy.download import data_export
from api.running import serving
from api.schema import build_schema
from api.settings import Settings
from api.surveys.export import free_text_csv
from api.wiring import open_database, persisted_documents
from loyalty.core.clock import Clock, SystemClock
from loyalty.storage.database import Database
from loyalty.storage.migrate import is_current
from wallet.apple.webservice import ROUTES as WALLET_ROUTES

log = logging.getLogger("trouw")
MAX_BODY_BYTES = 1_048_576


# Where a persisted document's refusal travels from parsing to execution.
_REFUSED = "trouw.persistedRefusal"


class GraphQLEndpoint(OfflineGraphiQL, MeasuredOperations, ResponseMedia, GraphQL[Context, None]):
    """GraphQL over HTTP, and over websockets for clients of the legacy graphql-ws protocol;
    graphql-transport-ws is served by `api.live.transport`."""

    def __init__(self, schema: BaseSchema, persisted: PersistedDocuments, **options: Any) -> None:
        super().__init__(schema, **options)
        self.persisted = persisted
        self.known_operations = operation_names(persisted.registered.values())

    async def parse_http_body(self, request: Any) -> Any:
        """The request data, with a persisted document's text looked up by its hash."""
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            return [self._persisted(item) for item in data]
        return self._persisted(data)

    def _persisted(self, data: GraphQLRequestData) -> GraphQLRequestData:
        found = self.persisted.resolve(data)
        if isinstance(found, Refused):
            return replace(data, query=None, extensions={_REFUSED: found})
        return found

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        data: GraphQLRequestData = kwargs["request_data"]
        note_operation(data.operation_name)
        refused = (data.extensions or {}).get(_REFUSED)
        if isinstance(refused, Refused):
            return ExecutionResult(data=None, errors=[refused.error()])
        return await super().execute_single(*args, **kwargs)

    def parse_json(self, data: str | bytes) -> Any:
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = f"The request body is not valid UTF-8 (byte {exc.start})"
                raise HTTPException(400, reason) from None
        parsed = super().parse_json(data)
        # Strawberry expects an object (or a batch); other JSON would crash it with a 500.
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return parsed

    async def get_context(self, request: Any, response: Any) -> Context:
        services: Services = request.app.state.services
        websocket = isinstance(request, WebSocket)
        context = Context(
            services=services,
            request=request,
            response=response,
            loaders=Loaders(services.reads, cache=not websocket),
        )
        ids.use(services.ids)
        if not websocket:
            await apply_credentials(context, request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        await apply_credentials(context, authorization if isinstance(authorization, str) else None)
        if context.auth_error is not None:
            raise ConnectionRejectionError({"code": context.auth_error.code})
        return await super().on_ws_connect(context)


class BodyLimit:
    """Refuse request bodies over a limit before anything reads them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        # A body without a length (chunked) is counted as it is read.
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._bounded(receive), tracked)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"error": f"request body over {self.limit} bytes"}, status_code=413)
        await response(scope, receive, send)

    def _bounded(self, receive: Receive) -> Receive:
        seen = 0

        async def bounded() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _BodyTooLarge
            return message

        return bounded


class _BodyTooLarge(Exception):
    pass


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Starlette:
    settings = settings or Settings()
    clock = clock or SystemClock()
    trusted_networks(tuple(settings.trusted_proxies))  # a bad entry fails here, at start-up
    db, reactions = open_database(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not await is_current(db):
            raise RuntimeError("the database schema is not up to date: run `trouw migrate`")
        try:
            async with serving(settings, db, reactions, clock) as services:
                app.state.services = services
                ids.install(services.ids)
                yield
        finally:
            await db.dispose()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            await db.ping()
        except Exception as exc:
            log.warning("readiness check failed: %s", exc)
            return JSONResponse({"status": "unavailable", "reason": "database"}, status_code=503)
        return JSONResponse({"status": "ready"})

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *_graphql_routes(settings),
            Route("/admin/surveys/{survey_id}/answers.csv", free_text_csv),
            Route("/admin/campaigns/{campaign_id}/report.csv", report_csv),
            Route("/privacy/exports/{token}", data_export),
            *WALLET_ROUTES,
            *([Route("/metrics", metrics_endpoint)] if settings.metrics else []),
            *([Mount(ASSETS_PATH, graphiql_assets())] if settings.graphiql else []),
        ],
        lifespan=lifespan,
    )
    _add_middleware(app, settings, db)
    return app


def _graphql_routes(settings: Settings) -> list[BaseRoute]:
    """`/graphql` over HTTP (and the legacy graphql-ws protocol), and graphql-transport-ws."""
    schema = build_schema(settings)
    graphql = GraphQLEndpoint(
        schema,
        persisted_documents(settings),
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=False,
        keep_alive=True,
        keep_alive_interval=settings.ws_keepalive_seconds,
    )
    live = LiveTransport(
        schema, graphql, graphql.persisted, keep_alive=settings.ws_keepalive_seconds
    )
    return [Route("/graphql", graphql), WebSocketRoute("/graphql", live)]


def _add_middleware(app: Starlette, settings: Settings, db: Database) -> None:
    """Outermost last: request ids (and their access line) wrap everything, then the headers
    and CORS; the request scope (one connection per request) is innermost, inside the body
    limit."""
    app.add_middleware(RequestScopes, open_scope=db.request)
    app.add_middleware(BodyLimit)
    app.add_middleware(CountWebsockets)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders, hsts_seconds=settings.hsts_seconds)
    app.add_middleware(RequestIds)  # outermost: every answer has an id and an access line
    trace_app(app, db.engine, settings)  # with tracing on, its middleware wraps them all
