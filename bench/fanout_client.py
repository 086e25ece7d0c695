"""The fan-out bench's client side: a process holding its share of the websockets.

Each socket is websockets' sans-I/O protocol on a plain asyncio transport (uvloop when it is
installed), offering permessage-deflate as browsers and OkHttp do, and speaking
graphql-transport-ws: `connection_init` with the member's token, then one `subscribe`. The
process tells its parent through a pipe when its sockets are subscribed, then the time each
first `next` arrived and the CPU it spent receiving them (the clients share the machine's
cores with the server: the parent prints it so a reader can tell who was the bottleneck).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import time
from multiprocessing.connection import Connection
from typing import cast

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

# Every phase gives up after this long: the bench always ends.
DEADLINE_S = float(os.environ.get("BENCH_DEADLINE", "120"))
# Sockets opening at the same moment, per process.
OPENING = 50


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Subscriber(asyncio.Protocol):
    # Sockets that have had their `next`, and the event set when all have.
    heard = 0
    everyone: asyncio.Event | None = None
    expected = 0

    def __init__(self, url: str, token: str, query: str, subscribed: asyncio.Future[None]) -> None:
        self.conn = ClientProtocol(
            parse_uri(url),
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            extensions=[ClientPerMessageDeflateFactory()],
        )
        self.token = token
        self.query = query
        self.subscribed = subscribed
        self.received_at: float | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.conn.send_request(self.conn.connect())
        self._flush()

    def _send(self, message: dict[str, object]) -> None:
        self.conn.send_text(json.dumps(message).encode())

    def _flush(self) -> None:
        assert self.transport is not None
        for data in self.conn.data_to_send():
            if data:
                self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if isinstance(event, Response):
                init = {"authorization": f"Bearer {self.token}"}
                self._send({"type": "connection_init", "payload": init})
            elif isinstance(event, Frame) and event.opcode == Opcode.TEXT:
                self._on_text(bytes(event.data))
        self._flush()

    def _on_text(self, text: bytes) -> None:
        if b'"next"' in text:
            if self.received_at is None:
                self.received_at = time.monotonic()
                Subscriber.heard += 1
                if Subscriber.heard == Subscriber.expected and Subscriber.everyone is not None:
                    Subscriber.everyone.set()
        elif b'"connection_ack"' in text:
            self._send({"type": "subscribe", "id": "1", "payload": {"query": self.query}})
            if not self.subscribed.done():
                self.subscribed.set_result(None)
        elif b'"ping"' in text:
            self._send({"type": "pong"})

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(exc or ConnectionError("closed"))


async def _open(port: int, tokens: list[str], query: str) -> tuple[list[Subscriber], int]:
    """The sockets, subscribed; and how many failed to."""
    loop = asyncio.get_running_loop()
    url = f"ws://127.0.0.1:{port}/graphql"
    gate = asyncio.Semaphore(OPENING)
    subscribers: list[Subscriber] = []

    async def one(token: str) -> None:
        async with gate:
            subscribed: asyncio.Future[None] = loop.create_future()
            subscriber = Subscriber(url, token, query, subscribed)
            subscribers.append(subscriber)
            await loop.create_connection(lambda: subscriber, "127.0.0.1", port)
            await asyncio.wait_for(subscribed, DEADLINE_S)

    results = await asyncio.gather(*(one(t) for t in tokens), return_exceptions=True)
    return subscribers, sum(1 for r in results if isinstance(r, BaseException))


async def _client(port: int, tokens: list[str], query: str, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    Subscriber.everyone, Subscriber.expected = asyncio.Event(), len(tokens)
    subscribers, failed = await _open(port, tokens, query)
    pipe.send(("subscribed", failed))
    await loop.run_in_executor(None, pipe.recv)  # the parent says: collect now
    cpu = time.process_time()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(Subscriber.everyone.wait(), DEADLINE_S)
    received = [s.received_at for s in subscribers if s.received_at is not None]
    pipe.send(("received", (received, time.process_time() - cpu)))
    await loop.run_in_executor(None, pipe.recv)  # then: close
    for subscriber in subscribers:
        if subscriber.transport is not None:
            subscriber.transport.close()


def client_process(port: int, tokens: list[str], query: str, pipe: Connection) -> None:
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client(port, tokens, query, pipe))
