"""OpenTelemetry, with the `otel` extra installed: a request to a real server makes a server
span, its database statements are spans inside it, and the caller's httpx span (outgoing HTTP
is instrumented too) carries the trace into the server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest

from api.core.tracing import EXTRA_MISSING, extra_installed, tracing_wanted
from loyalty.core.clock import FixedClock
from tests.api.test_points_api import Shop
from tests.conftest import make_settings
from tests.support.data import api_key, install
from tests.support.server import start_server

pytestmark = pytest.mark.skipif(not extra_installed(), reason=EXTRA_MISSING)


@cache
def exporter() -> Any:
    """One in-memory exporter for the test process (a tracer provider is set once)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    return memory


@pytest.fixture
def traced_shop(clean_database: str) -> Iterator[Shop]:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    exporter()
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    install(clean_database)
    server = start_server(make_settings(clean_database, otel_enabled=True), clock)
    try:
        till = server.client(api_key(clean_database, ["pos"], clock.now(), "Till 1"))
        office = server.client(api_key(clean_database, ["admin"], clock.now(), "Office"))
        yield Shop(server, clock, till, office)
    finally:
        server.stop()
        HTTPXClientInstrumentor().uninstrument()


def test_a_request_is_a_span_with_its_database_statements(traced_shop: Shop) -> None:
    member = traced_shop.member("traced@example.com")
    exporter().clear()
    traced_shop.buy(member, "traced-1", [{"sku": "KOFFIE", "quantity": "1", "unitPrice": "9"}])

    def server_spans() -> list[Any]:
        return [s for s in exporter().get_finished_spans() if s.kind.name == "SERVER"]

    deadline = time.monotonic() + 10
    while not server_spans():
        assert time.monotonic() < deadline, "the request made no server span"
        time.sleep(0.05)
    (request,) = server_spans()
    assert request.name == "POST /graphql"
    assert request.attributes["http.route"] == "/graphql"
    trace_id = request.context.trace_id
    spans = [s for s in exporter().get_finished_spans() if s.context.trace_id == trace_id]
    statements = [s for s in spans if s.attributes.get("db.statement")]
    # The purchase's reads and writes, each a span inside the request's.
    assert len(statements) >= 5
    assert any(s.attributes["db.statement"].startswith("INSERT") for s in statements)
    ids = {s.context.span_id for s in spans}
    assert all(s.parent is not None and s.parent.span_id in ids for s in statements)
    # The till's own call (an httpx client) is the trace's root: the server continued it.
    (caller,) = [s for s in spans if s.kind.name == "CLIENT" and s.parent is None]
    assert request.parent is not None and request.parent.span_id == caller.context.span_id


def test_tracing_is_on_by_setting_or_by_the_standard_variables() -> None:
    off = make_settings("sqlite+aiosqlite://")
    on = make_settings("sqlite+aiosqlite://", otel_enabled=True)
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert not tracing_wanted(off, {})
    assert tracing_wanted(on, {})
    assert tracing_wanted(off, endpoint)
    assert not tracing_wanted(on, {"OTEL_SDK_DISABLED": "true"})
