"""What the commands share: reading the settings, running async work against the database
with failures turned into messages, and stopping on Ctrl+C or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.settings import Settings
from api.wallet.setup import check_wallet
from api.wiring import open_database
from loyalty.core.clock import SystemClock
from loyalty.core.errors import DomainError
from loyalty.core.reactions import Reactions
from loyalty.demo.data import DemoSummary
from loyalty.storage.database import Database
from loyalty.storage.migrate import is_current
from wallet.credentials import WalletConfigError

T = TypeVar("T")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"TROUW_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise click.ClickException(f"bad configuration: {problems}") from None


def check_wallet_settings(settings: Settings) -> None:
    """The wallet's certificates and keys, checked before anything starts (docs/wallet.md)."""
    try:
        check_wallet(settings, SystemClock())
    except WalletConfigError as exc:
        raise click.ClickException(f"bad wallet configuration: {exc}") from None


def run_wired(
    work: Callable[[Database, Reactions], Awaitable[T]],
    settings: Settings | None = None,
    *,
    migrates: bool = False,
) -> T:
    """Run one async job against the configured database (wired with the reactions, which it
    is given too), turning failures into messages. Jobs that do not migrate themselves refuse
    to run on an out-of-date schema."""
    settings = settings or load_settings()
    try:
        db, reactions = open_database(settings)
    except Exception as exc:
        raise click.ClickException(f"bad TROUW_DATABASE_URL: {exc}") from None

    async def main() -> T:
        try:
            if not migrates and not await is_current(db):
                raise click.ClickException(
                    "the database schema is not up to date: run `trouw migrate`"
                )
            return await work(db, reactions)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except (OSError, SQLAlchemyError) as exc:
        raise click.ClickException(f"database error: {exc}") from None


def run(
    work: Callable[[Database], Awaitable[T]],
    settings: Settings | None = None,
    *,
    migrates: bool = False,
) -> T:
    """`run_wired` for work that needs only the database."""

    async def wired(db: Database, _: Reactions) -> T:
        return await work(db)

    return run_wired(wired, settings, migrates=migrates)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on Ctrl+C or SIGTERM (call inside the running loop)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def print_demo(summary: DemoSummary) -> None:
    click.echo(f"  Demo member:    {summary.member_email} / {summary.member_password}")
    click.echo(f"  Demo till key:  {summary.till_key}")
    click.echo("  (demo credentials are public: never use them in production)")
