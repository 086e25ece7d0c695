"""A stand-in for the brand's webhook receiver: a real HTTP server on 127.0.0.1 (stdlib
`http.server` in a thread) that records every request and answers as the test says."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def event_id(self) -> str:
        return self.headers.get("trouw-event-id", "")


@dataclass
class Receiver:
    """`answers` are status codes used in turn (the last one repeats); `delay` holds each
    request that long before answering; `gate`, when set, holds requests until it is set."""

    answers: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    gate: threading.Event | None = None
    received: list[Received] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight_per_event: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    on_request: Callable[[Received], None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.json for r in self.received]

    def event_ids(self) -> list[str]:
        with self.lock:
            return [r.event_id for r in self.received]

    def _next_status(self) -> int:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            got = Received(
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                at=time.monotonic(),
            )
            with receiver.lock:
                receiver.received.append(got)
                receiver.in_flight[got.event_id] += 1
                receiver.max_in_flight_per_event = max(
                    receiver.max_in_flight_per_event, receiver.in_flight[got.event_id]
                )
            receiver.arrived.set()
            if receiver.on_request is not None:
                receiver.on_request(got)
            try:
                if receiver.gate is not None:
                    receiver.gate.wait(timeout=30)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver._next_status()
                payload = b'{"ok":true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the worker hung up (killed, or timed out)
            finally:
                with receiver.lock:
                    receiver.in_flight[got.event_id] -= 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def webhook_receiver(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.gate is not None:
            receiver.gate.set()
        server.shutdown()
        server.server_close()
