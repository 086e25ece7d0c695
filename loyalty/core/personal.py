"""Personal data sealed with a key per member (envelope encryption), and keyed hashes for
looking it up.

Each member has a random 256-bit data key. Their personal data is sealed with it (AES-256-GCM)
and the data key itself is stored wrapped (AES-256-GCM again) by a master key that comes from
configuration, together with the master key's id. Master keys rotate: the newest one wraps new
data keys, the older ones stay readable until every data key they wrap has been re-wrapped.
Erasing a member deletes their data key, so what was sealed with it, wherever it was copied,
can no longer be read.

Email addresses are found through a blind index: an HMAC-SHA256 under a separate key, so the
database can enforce uniqueness and answer lookups without holding the address in clear.

The keyring is installed on a `Database` by the composition root; code that holds a session
finds it with `keyring_of(session)`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_VERSION = b"\x01"
_NONCE = 12
_WRAP_CONTEXT = b"trouw/member-data-key"
_KEYRING = "keyring"  # its name in `Database.info`


class KeyringError(Exception):
    """A key is missing or does not open what it should (configuration, not the client)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))


@dataclass(frozen=True)
class Keyring:
    """Master keys by id (`current` wraps new data keys) and the blind-index key."""

    master_keys: dict[str, bytes]
    current: str
    index_key: bytes

    def __post_init__(self) -> None:
        if self.current not in self.master_keys:
            raise KeyringError(f"the current master key {self.current!r} is not in the keyring")
        for key_id, key in self.master_keys.items():
            if len(key) != 32:
                raise KeyringError(f"master key {key_id!r} must be 32 bytes (256 bits)")
        if len(self.index_key) < 32:
            raise KeyringError("the blind-index key must be at least 32 bytes")

    # Data keys -----------------------------------------------------------------------------

    def new_data_key(self) -> tuple[bytes, str, bytes]:
        """A fresh data key, with the id of the master key that wraps it and its wrapped form."""
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, self.current, self.wrap(data_key)

    def wrap(self, data_key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(self.master_keys[self.current]).encrypt(nonce, data_key, _WRAP_CONTEXT)
        return _VERSION + nonce + sealed

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        master = self.master_keys.get(key_id)
        if master is None:
            raise KeyringError(f"master key {key_id!r} is not configured (was it removed early?)")
        try:
            return AESGCM(master).decrypt(
                wrapped[1 : 1 + _NONCE], wrapped[1 + _NONCE :], _WRAP_CONTEXT
            )
        except InvalidTag:
            raise KeyringError(f"master key {key_id!r} does not open this data key") from None

    def rewrap(self, key_id: str, wrapped: bytes) -> tuple[str, bytes]:
        """The data key wrapped by the current master key (unchanged if it already is)."""
        if key_id == self.current:
            return key_id, wrapped
        return self.current, self.wrap(self.unwrap(key_id, wrapped))

    # Blind index -------------------------------------------------------------------------------

    def blind(self, value: str, purpose: str = "email") -> bytes:
        """The keyed hash that stands in for `value` in lookups and unique constraints."""
        message = purpose.encode() + b"\x00" + value.encode("utf-8")
        return hmac.new(self.index_key, message, hashlib.sha256).digest()

    def fingerprint(self, value: str) -> str:
        """A keyed hash of a personal value, kept after erasure to prove it is gone."""
        return self.blind(value.casefold(), "erased").hex()[:32]

    # Construction --------------------------------------------------------------------------

    @classmethod
    def from_config(cls, master_keys: str, index_key: str) -> Keyring:
        """`master_keys` is `id:base64key[,id:base64key…]`, the first one current."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in master_keys.split(","):
            key_id, sep, encoded = part.strip().partition(":")
            if not sep or not key_id or not encoded:
                raise KeyringError("master keys are written as id:base64key, separated by commas")
            try:
                keys[key_id] = _unb64(encoded)
            except ValueError:
                raise KeyringError(f"master key {key_id!r} is not valid base64") from None
            order.append(key_id)
        try:
            index = _unb64(index_key)
        except ValueError:
            raise KeyringError("the blind-index key is not valid base64") from None
        return cls(keys, order[0], index)

    @classmethod
    def generate(cls, key_id: str = "dev-1") -> Keyring:
        return cls({key_id: AESGCM.generate_key(bit_length=256)}, key_id, secrets.token_bytes(32))

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        """The development keyring kept in `path`, made there (readable by its owner only) on
        first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return cls.from_file(path)  # another process made it first
            with os.fdopen(fd, "w") as out:
                json.dump(cls.generate().to_json(), out)
        return cls.from_json(json.loads(path.read_text()))

    def with_new_master_key(self) -> Keyring:
        """This keyring plus a new current master key (the old ones stay readable)."""
        number = 1 + max(
            (int(k.rsplit("-", 1)[1]) for k in self.master_keys if k.rsplit("-", 1)[-1].isdigit()),
            default=0,
        )
        key_id = f"dev-{number}"
        keys = {key_id: AESGCM.generate_key(bit_length=256), **self.master_keys}
        return Keyring(keys, key_id, self.index_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "master_keys": {k: _b64(v) for k, v in self.master_keys.items()},
            "index_key": _b64(self.index_key),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Keyring:
        keys = {k: _unb64(v) for k, v in data["master_keys"].items()}
        return cls(keys, data["current"], _unb64(data["index_key"]))


def seal(data_key: bytes, values: dict[str, Any], context: bytes = b"members") -> bytes:
    """`values` as JSON, encrypted and authenticated with the member's data key."""
    nonce = os.urandom(_NONCE)
    plain = json.dumps(values, separators=(",", ":"), sort_keys=True).encode()
    return _VERSION + nonce + AESGCM(data_key).encrypt(nonce, plain, context)


def unseal(data_key: bytes, blob: bytes, context: bytes = b"members") -> dict[str, Any]:
    try:
        plain = AESGCM(data_key).decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], context)
    except InvalidTag:
        raise KeyringError("personal data does not open with the member's key") from None
    values: dict[str, Any] = json.loads(plain)
    return values


def install_keyring(info: dict[str, Any], keyring: Keyring) -> None:
    """Make `keyring` the one every session of a database uses (`Database.info`)."""
    info[_KEYRING] = keyring


def installed_keyring(info: dict[str, Any]) -> Keyring:
    """The keyring installed on a database (`Database.info`), e.g. to open a copy of its rows."""
    found = info.get(_KEYRING)
    if not isinstance(found, Keyring):
        raise KeyringError("no keyring is installed on this database (see api/wiring.py)")
    return found


def keyring_of(session: Session | AsyncSession) -> Keyring:
    keyring = maybe_keyring(session)
    if keyring is None:
        raise KeyringError("no keyring is installed on this database (see api/wiring.py)")
    return keyring


def maybe_keyring(session: Session | AsyncSession) -> Keyring | None:
    shared = session.info.get("database")
    found = shared.get(_KEYRING) if isinstance(shared, dict) else None
    return found if isinstance(found, Keyring) else None
