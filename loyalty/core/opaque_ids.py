"""Opaque ids: a type name and a row id, encrypted and authenticated with the installation's
key (AES-SIV, deterministic), so an id carries no sequence number and cannot be guessed or
made up. The API's global ids and the webhooks' member ids are made here, so they match."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAX_ID_LENGTH = 200  # far longer than any id we make; longer ones are not ours


class OpaqueIds:
    def __init__(self, secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"trouw node ids")
        self._siv = AESSIV(key.derive(secret))

    def seal(self, type_name: str, node_id: str | int) -> str:
        plain = f"{type_name}:{node_id}".encode()
        return base64.urlsafe_b64encode(self._siv.encrypt(plain, None)).decode().rstrip("=")

    def open(self, raw: str) -> tuple[str, str] | None:
        """(type name, node id) inside `raw`, or None when it is not an id made with this key."""
        if not raw or len(raw) > MAX_ID_LENGTH or not raw.isascii():
            return None
        try:
            sealed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            plain = self._siv.decrypt(sealed, None).decode()
        except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
            return None
        type_name, _, node_id = plain.partition(":")
        return (type_name, node_id) if type_name and node_id else None
