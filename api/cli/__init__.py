"""The `trouw` command line: `serve`, the setup commands (`migrate`, `demo`, `programme`,
`apikey`, `export-schema`, `export-error-codes`, `export-persisted-documents`) and the
background work (`jobs`, `scheduler`, `worker`, `requeue-dead`), and `wallet dev-certs`.
Every command builds what it needs through the composition root (`api/wiring.py`)."""

from __future__ import annotations

import click

from api.cli import programme, serve, setup, wallet, workers


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Trouw: a loyalty backend for mobile apps. Configure it with TROUW_* variables."""


for command in (
    setup.migrate,
    setup.demo,
    serve.serve,
    programme.programme,
    setup.apikey,
    workers.jobs,
    workers.scheduler,
    workers.worker,
    workers.requeue_dead_command,
    setup.export_schema,
    setup.export_error_codes,
    setup.export_persisted_documents,
    wallet.wallet,
):
    main.add_command(command)
