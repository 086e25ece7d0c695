"""`trouw members import`: members brought over from another platform (docs/cli.md)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from api.cli.progress import progress_bar
from api.cli.running import run_wired
from api.cli.startup import ExitStatus, StartupError
from loyalty.core.clock import SystemClock
from loyalty.core.reactions import Reactions
from loyalty.imports.members import CHUNK, ImportReport, import_members
from loyalty.imports.rows import FORMATS, FileProblem, count_records, format_of, read_records
from loyalty.storage.database import Database


@click.group()
def members() -> None:
    """Members: bring them over from another platform (docs/cli.md)."""


@members.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="csv (a header line) or jsonl (one JSON object a line); by default from the name.",
)
@click.option(
    "--chunk-size",
    default=CHUNK,
    show_default=True,
    type=click.IntRange(1, 5000),
    help="Rows per transaction.",
)
def import_command(file: Path, fmt: str | None, chunk_size: int) -> None:
    """Import members from a CSV or JSON lines file: profile, consents, opening balance and
    tier floor. Safe to run again: rows already imported are left as they are. Refused rows
    are listed with their line numbers and reasons; the command then exits with status 1."""
    try:
        fmt = format_of(file, fmt)
        total = count_records(file, fmt)
    except FileProblem as exc:
        raise StartupError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StartupError(f"cannot read {file}: {exc}") from None
    started = time.monotonic()

    async def work(db: Database, _: Reactions) -> ImportReport:
        with progress_bar("importing members", total) as advance:
            records = read_records(file, fmt)
            return await import_members(
                db, SystemClock(), records, progress=advance, chunk_size=chunk_size
            )

    report = run_wired(work)
    seconds = max(time.monotonic() - started, 1e-6)
    for rejection in report.rejected:
        click.echo(f"refused {rejection}", err=True)
    click.echo(
        f"{report.rows} rows in {seconds:.1f}s ({report.rows / seconds:,.0f} rows/s): "
        f"{report.created} members imported, {report.existing} already there, "
        f"{len(report.rejected)} refused"
    )
    if report.rejected:
        raise click.exceptions.Exit(int(ExitStatus.FAILED))
