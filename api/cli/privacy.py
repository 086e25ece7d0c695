"""`trouw privacy`: check an erasure, rotate the master key, make production keys."""

from __future__ import annotations

import base64
import secrets

import click

from api.cli.running import load_settings, run
from api.privacy.keys import key_file, write_key_file
from api.privacy.setup import build_privacy
from api.wiring import password_hasher
from loyalty.core.clock import SystemClock
from loyalty.core.personal import keyring_of
from loyalty.privacy.verify import Verification
from loyalty.storage.database import Database


@click.group()
def privacy() -> None:
    """Personal data: verify erasures, rotate keys (docs/privacy.md)."""


@privacy.command("verify")
@click.argument("member_id", type=int)
def verify(member_id: int) -> None:
    """Scan every table for the erased member's personal data; exit 1 if any is found."""
    settings = load_settings()

    async def work(db: Database) -> Verification:
        service = build_privacy(settings, db, SystemClock(), password_hasher(settings))
        return await service.verify(member_id)

    report = run(work, settings)
    click.echo(
        f"member {member_id}: erased={report.erased} key deleted={report.key_deleted}; "
        f"{report.tables} tables, {report.cells} cells scanned"
    )
    for finding in report.findings:
        click.echo(f"  found in {finding.table}.{finding.column} (row {finding.row})")
    if not report.clean:
        raise SystemExit(1)
    click.echo("no personal data of this member found")


@privacy.command("rotate-master-key")
def rotate_master_key() -> None:
    """Re-wrap every member key under the current master key. With configured keys, put the
    new key first in TROUW_PRIVACY_MASTER_KEYS (keeping the old ones) before running this,
    and remove the old ones after; with the development key file, a new key is added there."""
    settings = load_settings()

    async def work(db: Database) -> int:
        path = key_file(settings, db)
        if path is not None:
            async with db.unit_of_work(write=False) as uow:
                rotated = keyring_of(uow.session).with_new_master_key()
            write_key_file(path, rotated)
            db.info["keyring"] = rotated
        service = build_privacy(settings, db, SystemClock(), password_hasher(settings))
        return await service.rewrap_keys()

    changed = run(work, settings)
    click.echo(f"re-wrapped {changed} member keys under the current master key")


@privacy.command("new-keys")
def new_keys() -> None:
    """Print a fresh master key and blind-index key for the configuration."""
    master = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    index = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    click.echo(f"TROUW_PRIVACY_MASTER_KEYS=k1:{master}")
    click.echo(f"TROUW_PRIVACY_INDEX_KEY={index}")
