"""Prometheus metrics at `/metrics` (prometheus-client): GraphQL requests and their latency by
operation and outcome, the database pool, the outbox and delivery backlog, open websockets,
job runs, and points issued and spent.

Counters live in the process that counts; with several uvicorn workers `trouw serve` points
prometheus-client's multiprocess mode at a shared directory, so one scrape adds them up. The
backlog is read from the database at each scrape, so any process reports the whole
installation's."""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterable
from typing import Any

from graphql import OperationDefinitionNode, parse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from api.core.media import failed_before_execution
from loyalty.core.events import BalanceChanged
from notifications.backlog import read_backlog
from notifications.bus import BusMessage

# Operations outside the registered documents share one label, so clients cannot grow the
# number of series without bound.
UNREGISTERED = "unregistered"

REQUESTS = Counter(
    "trouw_graphql_requests_total",
    "GraphQL operations answered, by operation name and outcome (ok, error, refused).",
    ["operation", "outcome"],
)
LATENCY = Histogram(
    "trouw_graphql_request_duration_seconds",
    "Time to execute a GraphQL operation, by operation name.",
    ["operation"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
WEBSOCKETS = Gauge(
    "trouw_websockets_open",
    "Open websocket connections (live subscriptions).",
    multiprocess_mode="livesum",
)
POINTS = Counter(
    "trouw_points_total",
    "Points issued (added to balances) and spent (taken from them), by ledger entry kind.",
    ["direction", "kind"],
)
JOB_RUNS = Counter(
    "trouw_job_runs_total", "Scheduled job runs, by job and outcome.", ["job", "outcome"]
)
JOB_SECONDS = Histogram("trouw_job_duration_seconds", "Time a scheduled job ran.", ["job"])
POOL = Gauge(
    "trouw_db_pool_connections",
    "Database pool connections, by state.",
    ["state"],
    multiprocess_mode="livesum",
)
OUTBOX_UNPUBLISHED = Gauge(
    "trouw_outbox_unpublished",
    "Outbox events not yet published.",
    multiprocess_mode="livemostrecent",
)
OUTBOX_LAG = Gauge(
    "trouw_outbox_lag_seconds",
    "Age of the oldest outbox event not yet published.",
    multiprocess_mode="livemostrecent",
)
DELIVERIES = Gauge(
    "trouw_deliveries_queued",
    "Notification deliveries waiting: pending (not tried), retrying, dead (dead letters).",
    ["state"],
    multiprocess_mode="livemostrecent",
)


def operation_names(documents: Iterable[str]) -> frozenset[str]:
    names: set[str] = set()
    for text in documents:
        for node in parse(text).definitions:
            if isinstance(node, OperationDefinitionNode) and node.name:
                names.add(node.name.value)
    return frozenset(names)


def count_points(message: BusMessage) -> None:
    """A relay observer: each published balance change, once."""
    if message.topic != BalanceChanged.name:
        return
    points = int(message.payload.get("points", 0))
    kind = str(message.payload.get("kind", "unknown"))
    if points > 0:
        POINTS.labels("issued", kind).inc(points)
    elif points < 0:
        POINTS.labels("spent", kind).inc(-points)


class MeasuredOperations:
    """Mixed into the GraphQL view: times each HTTP operation and counts its outcome."""

    known_operations: frozenset[str] = frozenset()

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        data: GraphQLRequestData = kwargs["request_data"]
        name = data.operation_name if data.operation_name in self.known_operations else None
        label = name or UNREGISTERED
        started = time.perf_counter()
        result: ExecutionResult = await super().execute_single(*args, **kwargs)  # type: ignore[misc]
        LATENCY.labels(label).observe(time.perf_counter() - started)
        outcome = (
            "refused" if failed_before_execution(result) else "error" if result.errors else "ok"
        )
        REQUESTS.labels(label, outcome).inc()
        return result


class CountWebsockets:
    """ASGI middleware keeping `trouw_websockets_open` true, whatever serves the socket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        WEBSOCKETS.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            WEBSOCKETS.dec()


def record_job(name: str, seconds: float, succeeded: bool) -> None:
    """A job observer (`loyalty.jobs.run_jobs`)."""
    JOB_RUNS.labels(name, "ok" if succeeded else "failed").inc()
    JOB_SECONDS.labels(name).observe(seconds)


def serve_metrics(host: str, port: int) -> None:
    """Expose this process's metrics on their own port (for `trouw worker` and `scheduler`)."""
    start_http_server(port, addr=host, registry=registry())


def registry() -> CollectorRegistry:
    """The registry to expose: this process's, or every worker's in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    combined = CollectorRegistry()
    MultiProcessCollector(combined)
    return combined


async def metrics_endpoint(request: Request) -> Response:
    services = request.app.state.services
    token = services.settings.metrics_token
    if token is not None and not hmac.compare_digest(
        request.headers.get("authorization", ""), f"Bearer {token.get_secret_value()}"
    ):
        return Response("a bearer token is needed for /metrics", status_code=401)
    engine_pool: Any = services.db.engine.pool
    if hasattr(engine_pool, "checkedout"):
        POOL.labels("in_use").set(engine_pool.checkedout())
        POOL.labels("idle").set(engine_pool.checkedin())
    backlog = await read_backlog(services.db, services.clock.now())
    OUTBOX_UNPUBLISHED.set(backlog.unpublished)
    OUTBOX_LAG.set(backlog.outbox_lag_seconds)
    for state, count in backlog.deliveries.items():
        DELIVERIES.labels(state).set(count)
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
