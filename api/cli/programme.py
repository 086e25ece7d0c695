"""`trouw programme`: check and apply a programme file (every applied version is kept, with
who applied it and when), list the versions, roll back to one, and plan a file: what it would
change, and a replay of the last days' purchases and events under it, writing nothing."""

from __future__ import annotations

import getpass
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from api.cli.progress import progress_bar
from api.cli.running import run
from api.wiring import wire_database
from loyalty.core.personal import Keyring, installed_keyring
from loyalty.planning.replay import Figures, Plan, plan
from loyalty.programme.install import install_programme
from loyalty.programme.loader import ProgrammeFileError, load_programme
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.versions import version_file, versions
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade


@click.group()
def programme() -> None:
    """Manage the loyalty programme."""


def _load(file: Path) -> ProgrammeFile:
    try:
        return load_programme(file)
    except ProgrammeFileError as exc:
        raise click.ClickException(f"invalid programme file\n{exc}") from None


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def _install(db: Database, spec: ProgrammeFile, by: str, note: str | None) -> bool:
    async with db.unit_of_work() as uow:
        _, created = await install_programme(
            uow.session, spec, datetime.now(UTC), applied_by=by, note=note
        )
        await uow.commit()
    return created


BY = click.option("--by", help="Who applies it (kept with the version; default: the OS user).")


@programme.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only validate the file; change nothing.")
@BY
def programme_apply(file: Path, check: bool, by: str | None) -> None:
    """Validate a programme file and load it into the database, as a new version."""
    spec = _load(file)
    if check:
        click.echo(f"{file}: valid programme {spec.programme.key!r}")
        return
    created = run(lambda db: _install(db, spec, _who(by), f"applied from {file.name}"))
    click.echo(f"programme {spec.programme.key!r} {'created' if created else 'updated'}")


@programme.command("versions")
def programme_versions() -> None:
    """List every version applied: number, when, who, and how."""

    async def work(db: Database) -> list[str]:
        async with db.unit_of_work(write=False) as uow:
            return [
                f"{v.version:4}  {v.applied_at.isoformat(timespec='seconds')}  "
                f"{v.applied_by or '-':20}  {v.note or ''}"
                for v in await versions(uow.session)
            ]

    for line in run(work):
        click.echo(line)


@programme.command("rollback")
@click.argument("version", type=int)
@BY
def programme_rollback(version: int, by: str | None) -> None:
    """Apply an earlier version again (kept as a new version)."""

    async def work(db: Database) -> str:
        async with db.unit_of_work(write=False) as uow:
            spec = await version_file(uow.session, version)
        await _install(db, spec, _who(by), f"rollback to version {version}")
        return spec.programme.key

    key = run(work)
    click.echo(f"programme {key!r} rolled back to version {version}")


@programme.command("plan")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--days", default=30, show_default=True, help="Replay this many days.")
def programme_plan(file: Path, days: int) -> None:
    """What FILE would change against the running programme, and the last DAYS of purchases,
    returns and events replayed under both (in a scratch database; nothing is written)."""
    spec = _load(file)
    now = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory(prefix="trouw-plan-") as folder,
        progress_bar(f"replaying {days} days"),
    ):
        result = run(
            lambda db: plan(
                db,
                spec,
                scratch_in(Path(folder), installed_keyring(db.info)),
                now - timedelta(days=days),
                now,
            )
        )
    for line in render(result, days):
        click.echo(line)


def scratch_in(folder: Path, keyring: Keyring) -> Callable[[], Awaitable[Database]]:
    """Empty, migrated, wired SQLite databases in `folder`, one per call; they open the copied
    members' personal data with the source's `keyring`."""
    made = [0]

    async def scratch() -> Database:
        made[0] += 1
        db = Database(f"sqlite+aiosqlite:///{folder / f'replay-{made[0]}.db'}")
        await upgrade(db)
        wire_database(db, keyring=keyring)
        return db

    return scratch


def render(result: Plan, days: int) -> list[str]:
    lines = ["changes:"] + [f"  {line}" for line in result.changes or ["(none)"]]
    now, new = result.current, result.planned
    lines.append(
        f"replay of the last {days} days: {now.purchases} purchases, {now.returns} returns, "
        f"{now.events} events"
    )
    lines.append(f"  {'':22}{'running':>12}{'planned':>12}{'change':>12}")
    for label, a, b in _rows(now, new):
        lines.append(f"  {label:22}{a:>12}{b:>12}{_delta(a, b):>12}")
    return lines


def _rows(now: Figures, new: Figures) -> list[tuple[str, object, object]]:
    rows: list[tuple[str, object, object]] = [
        ("points issued", now.points_issued, new.points_issued),
        ("points outstanding", now.points_outstanding, new.points_outstanding),
        ("liability", now.liability, new.liability),
    ]
    for tier in dict.fromkeys([*now.tiers, *new.tiers]):
        rows.append((f"tier {tier}", now.tiers.get(tier, 0), new.tiers.get(tier, 0)))
    return rows


def _delta(a: object, b: object) -> str:
    if isinstance(a, int | float) or hasattr(a, "__sub__"):
        change = b - a  # type: ignore[operator]
        return f"{change:+}"
    return ""
