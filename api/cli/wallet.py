"""`trouw wallet`: key material for wallet passes."""

from __future__ import annotations

from pathlib import Path

import click

from wallet.devcerts import write_dev_certs


@click.group()
def wallet() -> None:
    """Wallet passes (Apple Wallet, Google Wallet)."""


@wallet.command("dev-certs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--pass-type-id", default="pass.nl.trouw.demo", show_default=True)
@click.option("--team-id", default="TROUWDEV01", show_default=True)
def dev_certs(directory: Path, pass_type_id: str, team_id: str) -> None:
    """Make a local root, a WWDR-like intermediate, a pass certificate and a Google-style
    service-account key in DIRECTORY, for development and tests (never for real passes)."""
    files = write_dev_certs(directory, pass_type_id, team_id)
    click.echo(f"root (verify passes against it): {files.root}")
    click.echo(f"TROUW_WALLET_WWDR_FILE={files.wwdr}")
    click.echo(f"TROUW_WALLET_CERTIFICATE_FILE={files.certificate}")
    click.echo(f"TROUW_WALLET_KEY_FILE={files.key}")
    click.echo(f"TROUW_WALLET_GOOGLE_SERVICE_ACCOUNT_FILE={files.google_service_account}")
