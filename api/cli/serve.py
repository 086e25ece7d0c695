"""`trouw serve`: the GraphQL API under uvicorn (the app is `api.app:create_app`)."""

from __future__ import annotations

import os
import tempfile

import click

from api.cli.running import not_migrated, print_demo, run
from api.cli.startup import check_port, check_wallet_settings, load_settings
from api.wiring import password_hasher
from loyalty.core.clock import SystemClock
from loyalty.demo.data import DemoSummary, load_demo
from loyalty.storage.database import Database
from loyalty.storage.migrate import is_current, upgrade

DEMO_WALLET_DIR = ".trouw-wallet-dev"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--demo", "with_demo", is_flag=True, help="Load the demo data if the database is empty."
)
def serve(host: str, port: int, workers: int, with_demo: bool) -> None:
    """Serve the GraphQL API (and, on the embedded SQLite default, migrate first)."""
    import uvicorn

    from api.core.logs import configure_logging, logging_config

    if with_demo:
        _demo_wallet(f"http://{host}:{port}")
    settings = load_settings()
    configure_logging(settings)
    check_port(host, port)
    check_wallet_settings(settings)

    async def prepare(db: Database) -> DemoSummary | None:
        if db.is_sqlite or with_demo:
            await upgrade(db)
        elif not await is_current(db):
            raise not_migrated()
        if with_demo:
            return await load_demo(db, SystemClock(), password_hasher(settings))
        return None

    summary = run(prepare, settings, migrates=True)
    if workers > 1:
        _shared_metrics()
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
        print_demo(summary)
    if with_demo and settings.wallet_dev_certs_dir and not settings.wallet_certificate_file:
        click.echo(
            f"  Wallet passes:  signed with development certificates in "
            f"{settings.wallet_dev_certs_dir} (verify against its root.pem)"
        )
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=logging_config(settings),
        access_log=False,  # the app logs each request itself, with its id (api/core/request_ids.py)
        proxy_headers=True,
        # Live updates are small JSON messages; compressing them costs every socket its
        # own zlib state (about 45 KiB) and each message CPU, for little gain.
        ws_per_message_deflate=False,
    )


def _shared_metrics() -> None:
    """Each uvicorn worker counts in files of one directory, so a scrape of any of them reports
    the sum (prometheus-client's multiprocess mode). Read when the workers import it."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="trouw-metrics-")


def _demo_wallet(base: str) -> None:
    """The demo serves wallet passes: with no certificate configured, development key material
    is made in ./.trouw-wallet-dev on first start. The app factory reads the environment
    (uvicorn builds it in each worker), so the defaults go there."""
    if not os.environ.get("TROUW_WALLET_CERTIFICATE_FILE"):
        os.environ.setdefault("TROUW_WALLET_DEV_CERTS_DIR", DEMO_WALLET_DIR)
    os.environ.setdefault("TROUW_WALLET_PUBLIC_URL", base)
