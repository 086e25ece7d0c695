"""Apply the Alembic migrations that ship inside the package, and draft the next one.

Migrations are `migrations/versions/NNNN_short_description.py` with revision "NNNN", one per
change, each revising the one before; every one runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection

from loyalty.storage.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
VERSIONS = MIGRATIONS / "versions"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        # What the composition root installed (the keyring), for migrations that move data.
        cfg.attributes["database_info"] = db.info
        command.upgrade(cfg, revision)

    async with db.engine.execution_options(trouw_write=True).begin() as conn:
        await conn.run_sync(run)


async def is_current(db: Database) -> bool:
    """True when every migration that ships with this version has been applied."""

    def check(connection: Connection) -> bool:
        current = set(MigrationContext.configure(connection).get_current_heads())
        return current == set(ScriptDirectory.from_config(alembic_config()).get_heads())

    async with db.engine.connect() as conn:
        return await conn.run_sync(check)


def next_revision() -> str:
    """The number the next migration takes: one more than the highest so far."""
    numbers = [int(path.name[:4]) for path in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")]
    return f"{max(numbers, default=0) + 1:04d}"


async def draft(message: str, into: Path = VERSIONS) -> Path:
    """Write the next migration, `NNNN_<message>.py` with revision NNNN, holding what the
    models describe and the migrations do not create yet (Alembic's autogenerate, against a
    scratch SQLite database brought up to date first). Review what it wrote: autogenerate
    cannot see renames or data to move, and the migration must run on PostgreSQL too."""
    revision = next_revision()
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'draft.db'}")
        try:
            await upgrade(db)

            def write(connection: Connection) -> Path:
                cfg = alembic_config()
                if into != VERSIONS:  # drafting elsewhere (a test): read both
                    cfg.set_main_option("path_separator", "os")
                    cfg.set_main_option(
                        "version_locations", os.pathsep.join([str(VERSIONS), str(into)])
                    )
                cfg.attributes["connection"] = connection
                script = command.revision(
                    cfg, message, autogenerate=True, rev_id=revision, version_path=str(into)
                )
                assert isinstance(script, Script)
                return Path(script.path)

            async with db.engine.begin() as conn:
                return await conn.run_sync(write)
        finally:
            await db.dispose()


if __name__ == "__main__":
    # python -m loyalty.storage.migrate "short description": draft the next migration.
    import asyncio
    import sys

    print(asyncio.run(draft(" ".join(sys.argv[1:]) or "change")))
