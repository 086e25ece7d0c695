"""graphql-transport-ws on /graphql, lean enough for tens of thousands of sockets per process.

The protocol (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md) as the
graphql-ws, Apollo and gql clients speak it: `connection_init` with the credentials in its
payload (refused: close 4403), `connection_ack`, `ping`/`pong` both ways (the server pings
every `keep_alive` seconds), `subscribe`/`next`/`error`/`complete` per operation id, and
the protocol's close codes (4400 bad message, 4401 subscribe before the ack, 4408 no init in
time, 4409 an id in use, 4429 a second init).

Per socket it keeps a few fields and one timer; no task waits on a socket's behalf except
the one the server runs it in. A subscription whose document has a plan (`api.live.plans`)
is a `LiveStream` that renders each event straight to JSON; anything else (queries,
mutations and other documents) runs through Strawberry's executor as before. What is
written to a socket goes through one ordered queue, flushed by a task that exists only
while there is something to write; a socket whose client stops reading is closed before
its queue grows without bound.

A client that asks only for the legacy `graphql-ws` subprotocol is served by Strawberry's
handler for it (`fallback`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry import Schema
from strawberry.http import GraphQLRequestData

from api.core.context import Context, apply_credentials
from api.core.loaders import Loaders
from api.core.persisted import PersistedDocuments, Refused
from api.core.services import Reads, Services
from api.live.eager import send_eagerly
from api.live.operations import Executed, Live, Operation, error_payload
from api.live.plans import Plans, to_json
from api.live.subscriptions import LIVE_FIELDS

log = logging.getLogger("trouw.live")
PROTOCOL = "graphql-transport-ws"
MAX_OPERATIONS = 100
# Messages waiting for one socket whose client does not read; then it is closed (1013), and
# the client reconnects with its cursor.
MAX_QUEUED = 512


class LiveTransport:
    """The ASGI app for websockets on the GraphQL path."""

    def __init__(
        self,
        schema: Schema,
        fallback: ASGIApp,
        persisted: PersistedDocuments,
        *,
        keep_alive: float = 15.0,
        init_timeout: float = 60.0,
    ) -> None:
        self.schema = schema
        self.fallback = fallback
        self.persisted = persisted
        self.keep_alive = keep_alive
        self.init_timeout = init_timeout
        self.plans = Plans(schema, LIVE_FIELDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if PROTOCOL not in scope.get("subprotocols", ()):
            if self.persisted.only_registered:
                # The legacy protocol runs documents through Strawberry unchecked: refused
                # (HTTP 403 at the handshake) where only registered documents may run.
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.fallback(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept", "subprotocol": PROTOCOL})
        await Connection(self, scope, send).run(receive)


class SocketLoaders(Loaders):
    """A socket's DataLoaders (batching, no cache: the context outlives any one operation),
    made when an operation first uses them: live subscriptions never do."""

    def __init__(self, reads: Reads) -> None:
        self._reads = reads

    def __getattr__(self, name: str) -> Any:
        if name == "_reads":
            raise AttributeError(name)
        Loaders.__init__(self, self._reads, cache=False)
        return object.__getattribute__(self, name)


class Connection:
    """One socket: its protocol state, its operations and what waits to be written."""

    __slots__ = (
        "_flusher",
        "_out",
        "_send",
        "_timer",
        "acknowledged",
        "closing",
        "context",
        "init_received",
        "operations",
        "scope",
        "services",
        "transport",
    )

    def __init__(self, transport: LiveTransport, scope: Scope, send: Send) -> None:
        self.transport = transport
        self.scope = scope
        self.services: Services = scope["app"].state.services
        self.context: Context | None = None
        self.acknowledged = False
        self.init_received = False
        self.closing = False
        self.operations: dict[str, Operation] = {}
        self._send = send
        self._out: deque[Message] = deque()
        self._flusher: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(transport.init_timeout, self._init_timed_out)

    async def run(self, receive: Receive) -> None:
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                if self.closing or message["type"] != "websocket.receive":
                    continue
                text = message.get("text")
                if text is None:
                    self.close(4400, "WebSocket message type must be text")
                    continue
                await self._handle(text)
        finally:
            self.closing = True
            self._timer.cancel()
            for operation in self.operations.values():
                operation.stop()
            self.operations.clear()
            self._out.clear()

    async def _handle(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            self.close(4400, "WebSocket message must be valid JSON")
            return
        try:
            kind = message["type"]
            if kind == "connection_init":
                await self._init(message.get("payload"))
            elif kind == "ping":
                self.write({"type": "pong"})
            elif kind == "pong":
                pass
            elif kind == "subscribe":
                await self._subscribe(message["id"], message["payload"])
            elif kind == "complete":
                operation = self.operations.pop(message["id"], None)
                if operation is not None:
                    operation.stop()
            else:
                self.close(4400, f"Unknown message type: {kind}")
        except (KeyError, TypeError, ValueError):
            self.close(4400, "Failed to parse message")

    async def _init(self, payload: Any) -> None:
        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            self.close(4400, "Invalid connection init payload")
            return
        if self.init_received:
            self.close(4429, "Too many initialisation requests")
            return
        self.init_received = True
        self._timer.cancel()
        context = Context(
            services=self.services,
            request=HTTPConnection(self.scope),
            response=None,
            loaders=SocketLoaders(self.services.reads),
            connection_params=payload,
        )
        authorization = payload.get("authorization") or payload.get("Authorization")
        await apply_credentials(context, authorization if isinstance(authorization, str) else None)
        if context.auth_error is not None:
            self.close(4403, "Forbidden")
            return
        self.context = context
        self.write({"type": "connection_ack"})
        self.acknowledged = True
        self._timer = asyncio.get_running_loop().call_later(self.transport.keep_alive, self._ping)

    async def _subscribe(self, op_id: Any, payload: Any) -> None:
        if not self.acknowledged or self.context is None:
            self.close(4401, "Unauthorized")
            return
        if not isinstance(op_id, str):
            raise TypeError("id is a string")
        query = self._document(op_id, payload)
        if query is None:
            return
        variables = payload.get("variables")
        name = payload.get("operationName")
        if op_id in self.operations:
            self.close(4409, f"Subscriber for {op_id} already exists")
            return
        if len(self.operations) >= MAX_OPERATIONS:
            self.error(op_id, error_payload("Subscription limit reached"))
            return
        plan = self.transport.plans.get(query, name) if isinstance(name, str | None) else None
        if plan is not None:
            fits, after = plan.cursor(variables)
            if fits:
                live = Live(self, op_id, plan, LIVE_FIELDS[plan.field])
                self.operations[op_id] = live
                await live.start(self.context, after)
                return
        executed = Executed(self, op_id, self.context)
        self.operations[op_id] = executed
        executed.start(self.transport.schema, query, variables, name)

    def _document(self, op_id: str, payload: Any) -> str | None:
        """The document's text, looked up by its hash if the client sent one; None when it is
        refused (answered with an `error` message, as over HTTP)."""
        query, extensions = payload.get("query"), payload.get("extensions")
        if not isinstance(query, str | None) or not isinstance(extensions, dict | None):
            raise TypeError("query is a string and extensions an object")
        found = self.transport.persisted.resolve(
            GraphQLRequestData(query, None, payload.get("operationName"), extensions)
        )
        if isinstance(found, Refused):
            self.error(op_id, [dict(found.error().formatted)])
            return None
        if found.query is None:
            raise TypeError("query is a string")
        return found.query

    # Writing, in order, through one queue per socket.

    def next(self, op_id: str, payload_json: str) -> None:
        if op_id in self.operations:
            self._push(f'{{"id":{json.dumps(op_id)},"type":"next","payload":{payload_json}}}')

    def error(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        self.operations.pop(op_id, None)
        self.write({"id": op_id, "type": "error", "payload": errors})

    def complete(self, op_id: str) -> None:
        if self.operations.pop(op_id, None) is not None:
            self.write({"id": op_id, "type": "complete"})

    def write(self, message: dict[str, Any]) -> None:
        self._push(to_json(message))

    def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self._queue({"type": "websocket.close", "code": code, "reason": reason})
        self.closing = True

    def _push(self, text: str) -> None:
        if self.closing:
            return
        if len(self._out) >= MAX_QUEUED:
            # The client stopped reading: what is queued goes, the socket closes.
            self._out.clear()
            self.close(1013, "Too many updates queued; reconnect with your cursor")
            return
        self._queue({"type": "websocket.send", "text": text})

    def _queue(self, message: Message) -> None:
        self._out.append(message)
        if self._flusher is None:
            self._drain()

    def _drain(self) -> None:
        """Send what is queued now; if a send has to wait (the client reads slowly), a task
        finishes it and goes on with the rest."""
        out = self._out
        while out:
            try:
                waiting = send_eagerly(self._send(out.popleft()))
            except Exception as exc:
                self._gone(exc)
                return
            if waiting is not None:
                self._flusher = asyncio.get_running_loop().create_task(self._resume(waiting))
                return

    async def _resume(self, waiting: Coroutine[Any, Any, None]) -> None:
        try:
            await waiting
        except Exception as exc:
            self._gone(exc)
            return
        finally:
            self._flusher = None
        self._drain()

    def _gone(self, exc: Exception) -> None:
        # The client went away; `run` hears of it and cleans up.
        log.debug("websocket send failed: %r", exc)
        self.closing = True
        self._out.clear()

    def _ping(self) -> None:
        if not self.closing:
            self.write({"type": "ping"})
            self._timer = asyncio.get_running_loop().call_later(
                self.transport.keep_alive, self._ping
            )

    def _init_timed_out(self) -> None:
        if not self.init_received:
            self.close(4408, "Connection initialisation timeout")
