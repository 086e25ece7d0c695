"""The operations of one graphql-transport-ws connection: a planned live subscription, or
anything else run by Strawberry's executor."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry import Schema
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types.execution import ExecutionResult, PreExecutionError

from api.core.context import Context
from api.core.errors import should_mask
from api.live.plans import Plan, to_json
from api.live.stream import LiveStream
from api.live.subscriptions import LiveField, open_stream
from notifications.bus import BusMessage

if TYPE_CHECKING:
    from api.live.transport import Connection

log = logging.getLogger("trouw.live")


class Operation(Protocol):
    def stop(self) -> None: ...


def error_payload(message: str) -> list[dict[str, Any]]:
    return [dict(GraphQLError(message).formatted)]


def _result_json(result: ExecutionResult) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return to_json(payload)


def _failure_json(exc: BaseException) -> str:
    """An exception as the `next` payload Strawberry's executor makes of it: expected errors
    as they are, anything else masked (and logged)."""
    error = GraphQLError(str(exc), original_error=exc if isinstance(exc, Exception) else None)
    if should_mask(error):
        log.error("unexpected error in a live subscription", exc_info=exc)
        error = GraphQLError("Unexpected error.")
    return _result_json(ExecutionResult(data=None, errors=[error]))


class Live:
    """A subscription with a plan: a `LiveStream` whose events are rendered by the plan."""

    __slots__ = ("connection", "context", "field", "member_id", "op_id", "plan", "stream")

    def __init__(self, connection: Connection, op_id: str, plan: Plan, field: LiveField) -> None:
        self.connection = connection
        self.op_id = op_id
        self.plan = plan
        self.field = field
        self.stream: LiveStream | None = None
        self.member_id = 0

    async def start(self, context: Context, after: str | None) -> None:
        self.context = context
        try:
            member, last = await open_stream(context, after)
        except Exception as exc:
            self._ended(exc)
            return
        if self.op_id not in self.connection.operations:
            return  # completed by the client meanwhile
        self.member_id = member.member_id
        self.stream = LiveStream(
            context.services,
            member.member_id,
            self.field.kinds,
            last,
            self._take,
            self._ended,
            programme_wide=self.field.programme_wide,
        )
        self.stream.start()

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.close()

    def _take(self, message: BusMessage) -> Awaitable[None] | None:
        text = self._direct(message)
        if text is not None:
            self.connection.next(self.op_id, text)
            return None
        built = self.field.build(self.context, self.member_id, message)
        if inspect.isawaitable(built):
            return self._send_when_built(built)
        if built is not None:
            self.connection.next(self.op_id, self.plan.data(built))
        return None

    def _direct(self, message: BusMessage) -> str | None:
        """The `next` payload read straight from the message, when the plan can."""
        payload = self.field.payload
        if self.plan.direct is None or payload is None or message.topic not in payload.topics:
            return None
        try:
            return self.plan.direct_data(message)
        except Exception:
            return None  # a payload the readers do not fit: the typed path says what is wrong

    async def _send_when_built(self, building: Awaitable[object | None]) -> None:
        built = await building
        if built is not None:
            self.connection.next(self.op_id, self.plan.data(built))

    def _ended(self, error: BaseException | None) -> None:
        self.stop()
        if error is not None:
            self.connection.next(self.op_id, _failure_json(error))
        self.connection.complete(self.op_id)


class Executed:
    """Any other operation, through Strawberry's executor, answered as its graphql-transport-ws
    handler would: a syntax error or an unknown operation closes the socket (4400), other
    errors before execution are an `error` message, results are `next`, then `complete`."""

    __slots__ = ("connection", "context", "op_id", "task")

    def __init__(self, connection: Connection, op_id: str, context: Context) -> None:
        self.connection = connection
        self.op_id = op_id
        self.context = context
        self.task: asyncio.Task[None] | None = None

    def start(self, schema: Schema, query: str, variables: Any, name: Any) -> None:
        self.task = asyncio.get_running_loop().create_task(
            self._run(schema, query, variables, name)
        )

    def stop(self) -> None:
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    async def _run(self, schema: Schema, query: str, variables: Any, name: Any) -> None:
        connection, op_id = self.connection, self.op_id
        try:
            results = await schema.stream(
                query, variable_values=variables, context_value=self.context, operation_name=name
            )
            first = True
            async with contextlib.aclosing(results):
                async for result in results:
                    if first and isinstance(result, PreExecutionError):
                        self._refuse(result.errors or [])
                        return
                    if not isinstance(result, ExecutionResult):
                        connection.error(
                            op_id, error_payload("Incremental delivery is not supported")
                        )
                        return
                    connection.next(op_id, _result_json(result))
                    first = False
            connection.complete(op_id)
        except asyncio.CancelledError:
            raise
        except GraphQLSyntaxError as exc:  # raised, not returned, when the parser cache parses
            connection.close(4400, exc.message)
        except Exception:
            log.exception("a websocket operation failed")
            connection.complete(op_id)

    def _refuse(self, errors: list[GraphQLError]) -> None:
        first = errors[0] if errors else None
        if isinstance(first, GraphQLSyntaxError):
            self.connection.close(4400, first.message)
        elif first is not None and isinstance(first.original_error, CannotGetOperationTypeError):
            self.connection.close(4400, first.original_error.as_http_error_reason())
        else:
            self.connection.error(self.op_id, [dict(error.formatted) for error in errors])
