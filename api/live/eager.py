"""Running a coroutine at once, without a task, when it does not have to wait.

An ASGI `send` on a socket whose client keeps up never waits: the server writes to the
transport and returns. Fanning one change out to ten thousand sockets, a task per send
would cost more than the send itself. `send_eagerly` steps the coroutine right away, as
Python 3.12's eager tasks do; only when it does wait is the rest handed back, to be awaited
by a task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any


def send_eagerly(awaitable: Awaitable[None]) -> Coroutine[Any, Any, None] | None:
    """None when the coroutine ran to its end; otherwise a coroutine that finishes it.
    An exception it raises before waiting is raised here."""
    if not isinstance(awaitable, Coroutine):
        return _wait(awaitable)  # not a coroutine: nothing to step
    coroutine = awaitable
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    return _finish(coroutine, waiting_on)


async def _wait(awaitable: Awaitable[None]) -> None:
    await awaitable


async def _finish(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Go on stepping the coroutine as a task would: wait for the future it yielded, then
    resume it; it reads the future's result (or exception) itself."""
    try:
        while True:
            if waiting_on is None:
                await asyncio.sleep(0)  # a bare yield: give the loop one turn
            else:
                waiting_on._asyncio_future_blocking = False
                await asyncio.wait([waiting_on])
            try:
                waiting_on = coroutine.send(None)
            except StopIteration:
                return
    except BaseException:
        coroutine.close()
        raise
