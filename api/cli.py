"""The `trouw` command line."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.notifications_setup import build_worker, close_worker, notification_config
from api.settings import Settings
from api.wiring import wire_database
from loyalty.auth import apikeys
from loyalty.auth.passwords import PasswordHasher
from loyalty.core.clock import SystemClock
from loyalty.core.errors import DomainError
from loyalty.demo.data import DemoSummary, load_demo
from loyalty.jobs import JOBS, run_jobs, run_scheduler
from loyalty.programme.install import install_programme
from loyalty.programme.loader import ProgrammeFileError, load_programme
from loyalty.storage.database import Database
from loyalty.storage.migrate import is_current, upgrade
from notifications.bus import make_bus
from notifications.relay import OutboxRelay
from notifications.worker import requeue_dead

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"TROUW_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise click.ClickException(f"bad configuration: {problems}") from None


def _run(
    work: Callable[[Database], Awaitable[T]],
    settings: Settings | None = None,
    *,
    migrates: bool = False,
) -> T:
    """Run one async job against the configured database, turning failures into messages.
    Jobs that do not migrate themselves refuse to run on an out-of-date schema."""
    settings = settings or _settings()
    try:
        db = Database(settings.database_url)
        wire_database(db)
    except Exception as exc:
        raise click.ClickException(f"bad TROUW_DATABASE_URL: {exc}") from None

    async def main() -> T:
        try:
            if not migrates and not await is_current(db):
                raise click.ClickException(
                    "the database schema is not up to date: run `trouw migrate`"
                )
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except (OSError, SQLAlchemyError) as exc:
        raise click.ClickException(f"database error: {exc}") from None


def _hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Trouw: a loyalty backend for mobile apps. Configure it with TROUW_* variables."""


@main.command()
def migrate() -> None:
    """Apply the database migrations (safe to run again)."""
    _run(upgrade, migrates=True)
    click.echo("database is up to date")


@main.command()
def demo() -> None:
    """Load the demo programme, members and till key into an empty database."""
    settings = _settings()

    async def work(db: Database) -> DemoSummary:
        await upgrade(db)
        return await load_demo(db, SystemClock(), _hasher(settings))

    summary = _run(work, settings, migrates=True)
    if not summary.loaded:
        click.echo("a programme is already loaded; the demo data was not added")
    _print_demo(summary)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--demo", "with_demo", is_flag=True, help="Load the demo data if the database is empty."
)
def serve(host: str, port: int, workers: int, with_demo: bool) -> None:
    """Serve the GraphQL API (and, on the embedded SQLite default, migrate first)."""
    import uvicorn

    settings = _settings()
    summary: DemoSummary | None = None

    async def prepare(db: Database) -> DemoSummary | None:
        if db.is_sqlite or with_demo:
            await upgrade(db)
        if with_demo:
            return await load_demo(db, SystemClock(), _hasher(settings))
        return None

    summary = _run(prepare, settings, migrates=True)
    if workers > 1 and not settings.redis_url:
        click.echo(
            "warning: several workers without TROUW_REDIS_URL: a subscriber only hears about "
            "changes its own worker process relays; set TROUW_REDIS_URL",
            err=True,
        )
    base = f"http://{host}:{port}"
    click.echo(f"Trouw is serving on {base}")
    if settings.graphiql:
        click.echo(f"  GraphiQL:       {base}/graphql")
    if summary is not None:
        _print_demo(summary)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        proxy_headers=True,
    )


def _print_demo(summary: DemoSummary) -> None:
    click.echo(f"  Demo member:    {summary.member_email} / {summary.member_password}")
    click.echo(f"  Demo till key:  {summary.till_key}")
    click.echo("  (demo credentials are public: never use them in production)")


@main.group()
def programme() -> None:
    """Manage the loyalty programme."""


@programme.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only validate the file; change nothing.")
def programme_apply(file: Path, check: bool) -> None:
    """Validate a programme file and load it into the database."""
    try:
        spec = load_programme(file)
    except ProgrammeFileError as exc:
        raise click.ClickException(f"invalid programme file\n{exc}") from None
    if check:
        click.echo(f"{file}: valid programme {spec.programme.key!r}")
        return

    async def work(db: Database) -> bool:
        async with db.unit_of_work() as uow:
            _, created = await install_programme(uow.session, spec, datetime.now(UTC))
            await uow.commit()
        return created

    created = _run(work)
    click.echo(f"programme {spec.programme.key!r} {'created' if created else 'updated'}")


@main.group()
def apikey() -> None:
    """Manage integration API keys (tills, web shops, back offices)."""


@apikey.command("create")
@click.option("--name", required=True, help="Who uses the key, e.g. 'Till Utrecht 3'.")
@click.option(
    "--scope",
    "scopes",
    required=True,
    multiple=True,
    type=click.Choice(apikeys.SCOPES),
    help="pos: purchases, returns, codes, lookups. admin: everything. Repeatable.",
)
def apikey_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; it is shown once and only its hash is stored."""

    async def work(db: Database) -> str:
        async with db.unit_of_work() as uow:
            _, plaintext = await apikeys.create_api_key(
                uow.session, name, list(scopes), datetime.now(UTC)
            )
            await uow.commit()
        return plaintext

    plaintext = _run(work)
    click.echo(plaintext)
    click.echo("Store this key now: it cannot be shown again.", err=True)


@apikey.command("list")
def apikey_list() -> None:
    """List keys (never their secrets)."""

    async def work(db: Database) -> list[Any]:
        async with db.unit_of_work(write=False) as uow:
            return await apikeys.list_api_keys(uow.session)

    for key in _run(work):
        state = "revoked" if key.revoked_at else "active"
        used = key.last_used_at.isoformat() if key.last_used_at else "never"
        click.echo(f"{key.key_id}  {state:7}  {','.join(key.scopes):10}  used {used}  {key.name}")


@apikey.command("revoke")
@click.argument("key_id")
def apikey_revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after `trw_`)."""

    async def work(db: Database) -> None:
        async with db.unit_of_work() as uow:
            await apikeys.revoke_api_key(uow.session, key_id, datetime.now(UTC))
            await uow.commit()

    _run(work)
    click.echo(f"revoked {key_id}")


@main.group()
def jobs() -> None:
    """Scheduled work: release pending points, expire points, warn, recalculate tiers."""


@jobs.command("run")
@click.option("--only", multiple=True, type=click.Choice(sorted(JOBS)), help="Run only these jobs.")
def jobs_run(only: tuple[str, ...]) -> None:
    """Run the scheduled jobs once, until each has nothing left to do (idempotent)."""

    async def work(db: Database) -> dict[str, int]:
        return await run_jobs(db, SystemClock(), list(only) or None)

    for name, count in _run(work).items():
        click.echo(f"{name}: {count}")


@main.command()
@click.option(
    "--interval",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1, 86_400),
    help="Seconds between rounds.",
)
def scheduler(interval: float) -> None:
    """Run the scheduled jobs every INTERVAL seconds until stopped (Ctrl+C, SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def work(db: Database) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"running scheduled jobs every {interval:g}s")
        await run_scheduler(db, SystemClock(), interval, stop)

    _run(work)


@main.command()
def worker() -> None:
    """Deliver notifications (push, webhooks, inbox) from the outbox until stopped. Run as many
    as needed on PostgreSQL; on SQLite one (or the loop inside `trouw serve`) is enough."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = _settings()
    try:
        notification_config(settings)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"bad notification settings: {exc}") from None

    async def work(db: Database) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        running = build_worker(settings, db, SystemClock())
        tasks = [running.run(stop, settings.worker_interval_seconds)]
        # With a shared (Redis) bus the worker relays events too, so live updates flow even
        # with no server running the relay; an in-process bus here would reach no one.
        bus = make_bus(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
        if bus is not None:
            await bus.start()
            tasks.append(OutboxRelay(db, bus, SystemClock()).run(stop))
        click.echo(f"delivering notifications (push: {', '.join(running.push_senders) or 'none'})")
        try:
            await asyncio.gather(*tasks)
        finally:
            await close_worker(running)
            if bus is not None:
                await bus.close()

    _run(work, settings)


@main.command("requeue-dead")
@click.argument("delivery_ids", nargs=-1, type=int)
def requeue_dead_command(delivery_ids: tuple[int, ...]) -> None:
    """Give dead deliveries (all, or the given ids) a fresh set of attempts."""

    async def work(db: Database) -> int:
        return await requeue_dead(db, SystemClock(), list(delivery_ids) or None)

    click.echo(f"requeued {_run(work)} deliveries")


@main.command("export-schema")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("schema.graphql"),
    show_default=True,
)
@click.option("--check", is_flag=True, help="Exit 1 if the file differs from the code.")
def export_schema(output: Path, check: bool) -> None:
    """Write the GraphQL schema (SDL) exported from the code."""
    from api.schema import schema_sdl

    sdl = schema_sdl()
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != sdl:
            raise click.ClickException(f"{output} is out of date: run `trouw export-schema`")
        click.echo(f"{output} is up to date")
        return
    output.write_text(sdl, encoding="utf-8")
    click.echo(f"wrote {output}")


if __name__ == "__main__":
    logging.basicConfig()
    sys.exit(main())
