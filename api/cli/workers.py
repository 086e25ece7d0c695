"""Background work: the scheduled jobs (once, or on a timer), the notification worker with the
after-commit reactions, and giving dead deliveries another go."""

from __future__ import annotations

import asyncio

import click

from api.cli.progress import progress_bar
from api.cli.running import run, run_wired, stop_on_signals
from api.cli.startup import check_port, check_wallet_settings, load_settings
from api.core.logs import configure_logging
from api.core.metrics import record_job, serve_metrics
from api.core.tracing import trace_worker
from api.running import working
from loyalty.core.clock import SystemClock
from loyalty.core.reactions import Reactions
from loyalty.jobs import JOBS, run_jobs, run_scheduler
from loyalty.storage.database import Database
from notifications.worker import requeue_dead

METRICS_PORT = click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve this process's Prometheus metrics at http://127.0.0.1:PORT/metrics.",
)


def expose_metrics(port: int | None) -> None:
    if port is not None:
        check_port("127.0.0.1", port)
        serve_metrics("127.0.0.1", port)


@click.group()
def jobs() -> None:
    """Scheduled work: release pending points, expire points, warn, recalculate tiers."""


@jobs.command("run")
@click.option("--only", multiple=True, type=click.Choice(sorted(JOBS)), help="Run only these jobs.")
def jobs_run(only: tuple[str, ...]) -> None:
    """Run the scheduled jobs once, until each has nothing left to do (idempotent)."""

    names = [name for name in JOBS if not only or name in only]

    async def work(db: Database) -> dict[str, int]:
        with progress_bar("running the scheduled jobs", len(names)) as advance:

            def done(name: str, seconds: float, succeeded: bool) -> None:
                advance(1)

            return await run_jobs(db, SystemClock(), names, observe=done)

    for name, count in run(work).items():
        click.echo(f"{name}: {count}")


@click.command()
@click.option(
    "--interval",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1, 86_400),
    help="Seconds between rounds.",
)
@METRICS_PORT
def scheduler(interval: float, metrics_port: int | None) -> None:
    """Run the scheduled jobs every INTERVAL seconds until stopped (Ctrl+C, SIGTERM)."""
    settings = load_settings()
    configure_logging(settings)
    expose_metrics(metrics_port)

    async def work(db: Database) -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        click.echo(f"running scheduled jobs every {interval:g}s")
        await run_scheduler(db, SystemClock(), interval, stop, observe=record_job)

    run(work, settings)


@click.command()
@METRICS_PORT
def worker(metrics_port: int | None) -> None:
    """Deliver notifications (push, webhooks, inbox) from the outbox and run the after-commit
    reactions, until stopped. Run as many as needed on PostgreSQL; on SQLite one (or the loop
    inside `trouw serve`) is enough."""
    settings = load_settings()
    configure_logging(settings)
    expose_metrics(metrics_port)
    check_wallet_settings(settings)

    async def work(db: Database, reactions: Reactions) -> None:
        trace_worker(db.engine, settings)
        async with working(settings, db, reactions, SystemClock()) as (background, delivery):
            stop_on_signals(background.stop)
            push = ", ".join(delivery.worker.push_senders) or "none"
            click.echo(f"delivering notifications (push: {push})")
            await background.until_stopped()

    run_wired(work, settings)


@click.command("requeue-dead")
@click.argument("delivery_ids", nargs=-1, type=int)
def requeue_dead_command(delivery_ids: tuple[int, ...]) -> None:
    """Give dead deliveries (all, or the given ids) a fresh set of attempts."""

    async def work(db: Database) -> int:
        return await requeue_dead(db, SystemClock(), list(delivery_ids) or None)

    click.echo(f"requeued {run(work)} deliveries")
