"""OpenTelemetry traces, with the optional extra (`pip install 'trouw[otel]'`): a span per HTTP
request (Starlette), per database statement (SQLAlchemy) and per outgoing HTTP call (httpx:
webhooks, push, Google Wallet), exported over OTLP.

On with `TROUW_OTEL_ENABLED=true`, or when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, unless `OTEL_SDK_DISABLED=true`. The exporter
reads the standard `OTEL_*` variables (endpoint, headers, protocol); `OTEL_TRACES_EXPORTER=
console` prints spans instead, `none` exports none. A tracer provider already installed (by
`opentelemetry-instrument`, or a test) is used as it is."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.settings import Settings

log = logging.getLogger("trouw.tracing")
EXTRA_MISSING = "the OpenTelemetry extra is not installed: pip install 'trouw[otel]'"
_STANDARD = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def extra_installed() -> bool:
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("opentelemetry.sdk", "opentelemetry.instrumentation.starlette")
    )


def tracing_wanted(settings: Settings, environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return settings.otel_enabled or any(environ.get(name) for name in _STANDARD)


def trace_app(app: Starlette, engine: AsyncEngine, settings: Settings) -> None:
    """Instrument the app, its database engine and httpx, when tracing is wanted."""
    if not tracing_wanted(settings):
        return
    if not extra_installed():
        # TROUW_OTEL_ENABLED without the extra is refused by the settings; OTEL_* alone is not.
        log.warning("tracing is not on: %s", EXTRA_MISSING)
        return
    from opentelemetry.instrumentation.starlette import StarletteInstrumentor

    provider = tracer_provider()
    trace_engine(engine, provider)
    StarletteInstrumentor.instrument_app(app, tracer_provider=provider)


def trace_engine(engine: AsyncEngine, provider: Any) -> None:
    """Database statements and outgoing HTTP (also what `trouw worker` traces)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    _trace_statements(engine, provider)
    httpx_instrumentor = HTTPXClientInstrumentor()
    if not httpx_instrumentor.is_instrumented_by_opentelemetry:
        httpx_instrumentor.instrument(tracer_provider=provider)


def _trace_statements(engine: AsyncEngine, provider: Any) -> None:
    """SQLAlchemy's instrumentation for this engine. Its instrumentor instruments once per
    process (and declares SQLAlchemy below 2.1, which it works with), so each engine gets its
    tracer directly, as the instrumentor itself does for the engine it is given."""
    from opentelemetry.instrumentation.sqlalchemy import __name__ as name
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import get_meter
    from opentelemetry.semconv.metrics import MetricInstruments
    from opentelemetry.trace import get_tracer

    tracer = get_tracer(name, __version__, provider)
    connections = get_meter(name, __version__).create_up_down_counter(
        name=MetricInstruments.DB_CLIENT_CONNECTIONS_USAGE,
        unit="connections",
        description="The number of connections that are currently in state described by the "
        "state attribute.",
    )
    EngineTracer(tracer, engine.sync_engine, connections)


def tracer_provider() -> Any:
    """The installed tracer provider, or a new one exporting as the `OTEL_*` variables say."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    name = os.environ.get("OTEL_SERVICE_NAME") or "trouw"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower()
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter != "none":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def trace_worker(engine: AsyncEngine, settings: Settings) -> None:
    """`trouw worker`: its statements and its webhook and push calls."""
    if tracing_wanted(settings) and extra_installed():
        trace_engine(engine, tracer_provider())
