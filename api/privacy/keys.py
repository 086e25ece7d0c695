"""Where the keyring for personal data comes from: configuration, or in development a file.

Configured (`TROUW_PRIVACY_MASTER_KEYS`, `TROUW_PRIVACY_INDEX_KEY`): those keys, and nothing is
written anywhere. Not configured (development only; production refuses to start, see
`api.settings`): a generated keyring kept in `TROUW_PRIVACY_KEY_FILE`, by default next to the
SQLite database (`trouw.db.keys`) or, for PostgreSQL, `./.trouw-privacy-keys.json`. An
in-memory SQLite database gets a keyring that lives as long as the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import Settings
from loyalty.core.personal import Keyring

if TYPE_CHECKING:
    from loyalty.storage.database import Database

POSTGRES_DEV_KEY_FILE = ".trouw-privacy-keys.json"


def key_file(settings: Settings, db: Database) -> Path | None:
    """The development key file for `db`, or None when keys are configured or ephemeral."""
    if settings.privacy_master_keys is not None:
        return None
    if settings.privacy_key_file:
        return Path(settings.privacy_key_file)
    if db.is_sqlite:
        name = db.url.database
        if not name or name == ":memory:":
            return None
        return Path(f"{name}.keys")
    return Path(POSTGRES_DEV_KEY_FILE)


def keyring_for(settings: Settings, db: Database) -> Keyring:
    if settings.privacy_master_keys is not None and settings.privacy_index_key is not None:
        return Keyring.from_config(
            settings.privacy_master_keys.get_secret_value(),
            settings.privacy_index_key.get_secret_value(),
        )
    path = key_file(settings, db)
    return Keyring.generate() if path is None else Keyring.from_file(path)


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Replace the development key file (after adding a master key)."""
    import json
    import os

    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(keyring.to_json(), out)
    temporary.replace(path)
