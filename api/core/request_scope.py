"""One database connection and transaction per GraphQL request over HTTP.

The middleware opens the database's request scope (`Database.request()`, given by the app
factory) around the request, so its token check, resolvers and DataLoaders share one pool
checkout. Connections are not pinged: when the request's first use of the database finds the
connection dead and nothing was committed yet, the request runs once more on a fresh one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("trouw")


class OpenScope(Protocol):
    @property
    def retryable(self) -> bool: ...


class RequestScopes:
    def __init__(
        self,
        app: ASGIApp,
        open_scope: Callable[[], AbstractAsyncContextManager[OpenScope]],
        paths: tuple[str, ...] = ("/graphql",),
    ) -> None:
        self.app = app
        self.open_scope = open_scope
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        body = await _body(receive)
        sent: list[Message] = []

        async def keep(message: Message) -> None:
            sent.append(message)

        for attempt in (1, 2):
            sent.clear()
            request: OpenScope | None = None
            try:
                async with self.open_scope() as request:
                    await self.app(scope, _replay(body, receive), keep)
            except Exception:
                if attempt == 2 or request is None or not request.retryable:
                    raise
            if attempt == 1 and request is not None and request.retryable:
                log.warning("database connection lost before commit; running the request again")
                continue
            break
        for message in sent:
            await send(message)


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    given = False

    async def replayed() -> Any:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
