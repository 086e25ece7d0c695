"""Request ids over HTTP and websockets, and the access log.

Each request gets an id: the caller's `X-Request-Id` when it is well formed
(`loyalty.core.request_ids.WELL_FORMED`), else a new one. It is bound for the request (so
events emitted in it carry it into the outbox, and every log line made in it shows it),
returned in the response's `X-Request-Id` header, and logged with the request's outcome on
one line of the `trouw.access` logger (health checks at DEBUG)."""

from __future__ import annotations

import logging
import re
import time
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loyalty.core.request_ids import accepted, bound_request_id, new_request_id

HEADER = b"x-request-id"
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")

log = logging.getLogger("trouw.access")
# What the request's handler adds to its access line (the GraphQL operation).
_FACTS: ContextVar[dict[str, Any] | None] = ContextVar("trouw_request_facts", default=None)


def note_operation(name: str | None) -> None:
    """Name the GraphQL operation on the current request's access line (GraphQL names
    only: the field comes from the client)."""
    facts = _FACTS.get()
    if facts is None or name is None or not _NAME.fullmatch(name):
        return
    known = facts.get("operation")
    facts["operation"] = f"{known},{name}" if known else name


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER)
        request_id = accepted(given.decode("latin-1") if given else None) or new_request_id()
        answer: dict[str, Any] = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                answer["status"] = message.get("status", 101)
                headers = [*message.get("headers", []), (HEADER, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        facts: dict[str, Any] = {}
        started = time.perf_counter()
        token = _FACTS.set(facts)
        try:
            with bound_request_id(request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            _FACTS.reset(token)
            if scope["type"] == "http":
                with bound_request_id(request_id):
                    _access(scope, answer["status"], time.perf_counter() - started, facts)


def _access(scope: Scope, status: int, seconds: float, facts: dict[str, Any]) -> None:
    path = scope["path"]
    operation = facts.get("operation")
    client = scope.get("client")
    log.log(
        logging.DEBUG if path in QUIET_PATHS else logging.INFO,
        "%s %s%s %s %.1f ms",
        scope["method"],
        path,
        f" {operation}" if operation else "",
        status,
        seconds * 1000,
        extra={
            "method": scope["method"],
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "operation": operation,
            "client": client[0] if client else None,
        },
    )
