"""The `trouw` command line: `serve`, the setup commands (`migrate`, `demo`, `programme`,
`apikey`, `export-schema`, `export-error-codes`, `export-persisted-documents`), `members
import`, the background work (`jobs`, `scheduler`, `worker`, `requeue-dead`), `wallet
dev-certs` and `privacy` (verify an erasure, rotate the master key).
Every command builds what it needs through the composition root (`api/wiring.py`).

A command's module is imported only when that command runs: importing them all (the whole
application) would make `trouw --help` take seconds."""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click


class Entry(NamedTuple):
    target: str  # "module:attribute" of the click command
    # `trouw --help` shows it; a test keeps it the first sentence of the command's help.
    summary: str


COMMANDS: dict[str, Entry] = {
    "migrate": Entry(
        "api.cli.setup:migrate",
        "Apply the database migrations (safe to run again).",
    ),
    "demo": Entry(
        "api.cli.setup:demo",
        "Load the demo programme, members and till key into an empty database.",
    ),
    "serve": Entry(
        "api.cli.serve:serve",
        "Serve the GraphQL API (and, on the embedded SQLite default, migrate first).",
    ),
    "programme": Entry(
        "api.cli.programme:programme",
        "Manage the loyalty programme.",
    ),
    "apikey": Entry(
        "api.cli.setup:apikey",
        "Manage integration API keys (tills, web shops, back offices).",
    ),
    "jobs": Entry(
        "api.cli.workers:jobs",
        "Scheduled work: release pending points, expire points, warn, recalculate tiers.",
    ),
    "scheduler": Entry(
        "api.cli.workers:scheduler",
        "Run the scheduled jobs every INTERVAL seconds until stopped (Ctrl+C, SIGTERM).",
    ),
    "worker": Entry(
        "api.cli.workers:worker",
        "Deliver notifications (push, webhooks, inbox) from the outbox and run the after-commit "
        "reactions, until stopped.",
    ),
    "requeue-dead": Entry(
        "api.cli.workers:requeue_dead_command",
        "Give dead deliveries (all, or the given ids) a fresh set of attempts.",
    ),
    "export-schema": Entry(
        "api.cli.setup:export_schema",
        "Write the GraphQL schema (SDL) exported from the code.",
    ),
    "export-error-codes": Entry(
        "api.cli.setup:export_error_codes",
        "Write the list of error codes (Markdown) exported from the code.",
    ),
    "export-persisted-documents": Entry(
        "api.cli.setup:export_persisted_documents",
        "Write the contract's operations as a persisted query manifest (registered at start-up).",
    ),
    "members": Entry(
        "api.cli.members:members",
        "Members: bring them over from another platform (docs/cli.md).",
    ),
    "privacy": Entry(
        "api.cli.privacy:privacy",
        "Personal data: verify erasures, rotate keys (docs/privacy.md).",
    ),
    "wallet": Entry(
        "api.cli.wallet:wallet",
        "Wallet passes (Apple Wallet, Google Wallet).",
    ),
}


def load_command(name: str) -> click.Command:
    module, attribute = COMMANDS[name].target.split(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    return command


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, entry.summary) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trouw", prog_name="trouw")
def main() -> None:
    """Trouw: a loyalty backend for mobile apps. Configure it with TROUW_* variables."""
