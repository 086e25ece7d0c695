"""Setting an installation up: migrations, the demo, the programme file, API keys, and the
files exported from the code (the schema, the list of error codes)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from api.cli.progress import progress_bar
from api.cli.running import print_demo, run
from api.cli.startup import load_settings
from api.wiring import password_hasher
from loyalty.audit.service import Actor
from loyalty.auth import apikeys
from loyalty.core.clock import SystemClock
from loyalty.demo.data import DemoSummary, load_demo
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade


@click.command()
def migrate() -> None:
    """Apply the database migrations (safe to run again)."""
    run(upgrade, migrates=True)
    click.echo("database is up to date")


@click.command()
def demo() -> None:
    """Load the demo programme, members and till key into an empty database."""
    settings = load_settings()

    async def work(db: Database) -> DemoSummary:
        await upgrade(db)
        with progress_bar("loading the demo data"):
            return await load_demo(db, SystemClock(), password_hasher(settings))

    summary = run(work, settings, migrates=True)
    if not summary.loaded:
        click.echo("a programme is already loaded; the demo data was not added")
    print_demo(summary)


@click.group()
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
    help="pos: purchases, returns, codes, card lookups. members: read members by id with "
    "their profile. admin: everything. Repeatable (docs/security.md).",
)
def apikey_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; it is shown once and only its hash is stored."""

    async def work(db: Database) -> str:
        async with db.unit_of_work() as uow:
            _, plaintext = await apikeys.create_api_key(
                uow.session, name, list(scopes), datetime.now(UTC), _operator()
            )
            await uow.commit()
        return plaintext

    plaintext = run(work)
    click.echo(plaintext)
    click.echo("Store this key now: it cannot be shown again.", err=True)


@apikey.command("list")
def apikey_list() -> None:
    """List keys (never their secrets)."""

    async def work(db: Database) -> list[Any]:
        async with db.unit_of_work(write=False) as uow:
            return await apikeys.list_api_keys(uow.session)

    for key in run(work):
        state = "revoked" if key.revoked_at else "active"
        used = key.last_used_at.isoformat() if key.last_used_at else "never"
        click.echo(f"{key.key_id}  {state:7}  {','.join(key.scopes):10}  used {used}  {key.name}")


@apikey.command("revoke")
@click.argument("key_id")
def apikey_revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after `trw_`)."""

    async def work(db: Database) -> None:
        async with db.unit_of_work() as uow:
            await apikeys.revoke_api_key(uow.session, key_id, datetime.now(UTC), _operator())
            await uow.commit()

    run(work)
    click.echo(f"revoked {key_id}")


def _operator() -> Actor:
    """Who runs the command line, for the audit log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor("operator", user)


def _export(output: Path, text: str, check: bool, command: str) -> None:
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            raise click.ClickException(f"{output} is out of date: run `trouw {command}`")
        click.echo(f"{output} is up to date")
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")


@click.command("export-schema")
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

    _export(output, schema_sdl(), check, "export-schema")


@click.command("export-error-codes")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/error-codes.md"),
    show_default=True,
)
@click.option("--check", is_flag=True, help="Exit 1 if the file differs from the code.")
def export_error_codes(output: Path, check: bool) -> None:
    """Write the list of error codes (Markdown) exported from the code."""
    from api.core.error_docs import error_codes_markdown

    _export(output, error_codes_markdown(), check, "export-error-codes")


@click.command("export-persisted-documents")
@click.option(
    "--contract",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("../shared/contract"),
    show_default=True,
    help="The directory of the contract's .graphql files.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("api/contract-documents.json"),
    show_default=True,
)
@click.option("--check", is_flag=True, help="Exit 1 if the file differs from the contract.")
def export_persisted_documents(contract: Path, output: Path, check: bool) -> None:
    """Write the contract's operations as a persisted query manifest (registered at start-up)."""
    import json

    from api.core.persisted import contract_manifest

    _export(
        output,
        json.dumps(contract_manifest(contract), indent=2) + "\n",
        check,
        "export-persisted-documents",
    )
