"""Sends run at once when they need not wait, and finish in a task when they must."""

from __future__ import annotations

import asyncio

import pytest

from api.live.eager import send_eagerly


async def test_a_send_that_need_not_wait_runs_at_once() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    assert send_eagerly(send("a")) is None
    assert sent == ["a"]  # before any await


async def test_a_send_that_waits_is_finished_by_whoever_awaits_the_rest() -> None:
    writable = asyncio.Event()
    sent: list[str] = []

    async def send(text: str) -> None:
        await asyncio.sleep(0)
        await writable.wait()
        sent.append(text)

    rest = send_eagerly(send("b"))
    assert rest is not None and sent == []
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0.01)
    assert sent == [] and not task.done()
    writable.set()
    await asyncio.wait_for(task, 1)
    assert sent == ["b"]


async def test_errors_reach_the_caller_before_and_after_waiting() -> None:
    async def refused() -> None:
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        send_eagerly(refused())

    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def later() -> None:
        await gate

    rest = send_eagerly(later())
    assert rest is not None
    gate.set_exception(ConnectionError("gone later"))
    with pytest.raises(ConnectionError):
        await rest
