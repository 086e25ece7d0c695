"""Google Wallet's save and delete callbacks: signed messages Google posts to the callback URL
of the loyalty class when a member saves their card to Google Wallet or deletes it.

The message is signed in Google's `ECv2SigningOnly` scheme (the one Tink's
`PaymentMethodTokenRecipient` checks), with sender id `GooglePayPasses` and the issuer id as
recipient:

- Google's root signing keys come from `https://pay.google.com/gp/m/issuer/keys`
  (`{"keys": [{"keyValue", "protocolVersion", "keyExpiration"}]}`, each an EC P-256 public
  key as base64 DER); only `ECv2SigningOnly` keys not yet expired count.
- `intermediateSigningKey.signedKey` (JSON: `keyValue`, `keyExpiration`) must carry a
  signature by one of them over `sender id, protocol, signedKey`, and must not have expired.
- `signature` is by that intermediate key over `sender id, recipient id, protocol,
  signedMessage`.

Each signed string is its parts, each preceded by its length in bytes (four bytes, little
endian); signatures are ECDSA with SHA-256, DER, base64. `signedMessage` is JSON: `classId`,
`objectId`, `eventType` ("save" or "del"), `expTimeMillis` and a `nonce`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

GOOGLE_CALLBACK_KEYS_URL = "https://pay.google.com/gp/m/issuer/keys"
SENDER_ID = "GooglePayPasses"
PROTOCOL = "ECv2SigningOnly"
EVENTS = {"save": True, "del": False}  # event type: whether the card is now saved
KEYS_TTL_SECONDS = 3600.0
KEYS_REFRESH_SECONDS = 60.0  # after a failure, at most one fetch a minute


class CallbackRejected(ValueError):
    """The callback cannot be trusted or read; the message says why (never what to forge)."""


class CallbackKeysUnavailable(Exception):
    """Google's root signing keys could not be fetched: try again later (Google retries)."""


@dataclass(frozen=True)
class CallbackMessage:
    class_id: str
    object_id: str
    saved: bool  # "save": True, "del": False
    nonce: str


def signed_bytes(*parts: str) -> bytes:
    """The byte string a signature covers: each part with its 4-byte little-endian length."""
    out = bytearray()
    for part in parts:
        encoded = part.encode()
        out += struct.pack("<I", len(encoded)) + encoded
    return bytes(out)


def _public_key(value: Any) -> ec.EllipticCurvePublicKey | None:
    try:
        key = load_der_public_key(base64.b64decode(str(value), validate=True))
    except (ValueError, TypeError, binascii.Error):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def _expired(expiration: Any, now_ms: int) -> bool:
    return not str(expiration).isdigit() or int(expiration) <= now_ms


def _verifies(key: ec.EllipticCurvePublicKey, signature: Any, data: bytes) -> bool:
    try:
        key.verify(base64.b64decode(str(signature), validate=True), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False
    return True


def root_keys(document: Any, now_ms: int) -> list[ec.EllipticCurvePublicKey]:
    """The usable root signing keys of Google's key document."""
    keys = document.get("keys") if isinstance(document, dict) else None
    found = []
    for entry in keys if isinstance(keys, list) else []:
        if not isinstance(entry, dict) or entry.get("protocolVersion") != PROTOCOL:
            continue
        key = _public_key(entry.get("keyValue"))
        if key is not None and not _expired(entry.get("keyExpiration"), now_ms):
            found.append(key)
    return found


def _fields(body: bytes) -> tuple[str, str, list[Any], str]:
    """signature, signedKey, the key's signatures, signedMessage; or why not."""
    try:
        token = json.loads(body)
    except ValueError:
        raise CallbackRejected("the body is not JSON") from None
    if not isinstance(token, dict) or token.get("protocolVersion") != PROTOCOL:
        raise CallbackRejected(f"protocolVersion must be {PROTOCOL}")
    intermediate = token.get("intermediateSigningKey")
    if not isinstance(intermediate, dict):
        raise CallbackRejected("intermediateSigningKey is missing")
    signature, signed_key = token.get("signature"), intermediate.get("signedKey")
    signatures, message = intermediate.get("signatures"), token.get("signedMessage")
    if not isinstance(signature, str) or not signature:
        raise CallbackRejected("signature is missing")
    if not isinstance(signed_key, str) or not isinstance(signatures, list) or not signatures:
        raise CallbackRejected("intermediateSigningKey has no signed key or no signatures")
    if not isinstance(message, str):
        raise CallbackRejected("signedMessage is missing")
    return signature, signed_key, signatures, message


def _intermediate(
    signed_key: str, signatures: list[Any], roots: list[ec.EllipticCurvePublicKey], now_ms: int
) -> ec.EllipticCurvePublicKey:
    data = signed_bytes(SENDER_ID, PROTOCOL, signed_key)
    if not any(_verifies(root, s, data) for root in roots for s in signatures):
        raise CallbackRejected("the intermediate signing key is not signed by Google's root keys")
    try:
        details = json.loads(signed_key)
    except ValueError:
        details = None
    key = _public_key(details.get("keyValue")) if isinstance(details, dict) else None
    if key is None:
        raise CallbackRejected("the intermediate signing key cannot be read")
    if _expired(details.get("keyExpiration"), now_ms):
        raise CallbackRejected("the intermediate signing key has expired")
    return key


def verify_callback(
    body: bytes, roots: list[ec.EllipticCurvePublicKey], issuer_id: str, now: datetime
) -> CallbackMessage:
    """The message of a callback whose signatures verify for `issuer_id`; else
    CallbackRejected."""
    now_ms = int(now.timestamp() * 1000)
    signature, signed_key, signatures, message = _fields(body)
    key = _intermediate(signed_key, signatures, roots, now_ms)
    if not _verifies(key, signature, signed_bytes(SENDER_ID, issuer_id, PROTOCOL, message)):
        raise CallbackRejected("the signature does not verify (for this issuer id)")
    try:
        content = json.loads(message)
    except ValueError:
        content = None
    if not isinstance(content, dict) or content.get("eventType") not in EVENTS:
        raise CallbackRejected("signedMessage has no eventType save or del")
    if _expired(content.get("expTimeMillis"), now_ms):
        raise CallbackRejected("the message has expired")
    return CallbackMessage(
        class_id=str(content.get("classId", "")),
        object_id=str(content.get("objectId", "")),
        saved=EVENTS[content["eventType"]],
        nonce=str(content.get("nonce", "")),
    )


class CallbackKeys:
    """Google's root signing keys, fetched when first needed and kept for an hour; fetched
    again (at most once a minute) when a callback does not verify with the keys held, in
    case Google rotated them."""

    def __init__(self, url: str = GOOGLE_CALLBACK_KEYS_URL) -> None:
        self.url = url
        self._document: Any = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()
        self._http = httpx.AsyncClient(timeout=10)

    async def _refresh(self, older_than: float) -> None:
        async with self._lock:
            if self._document is not None and time.monotonic() - self._fetched < older_than:
                return
            try:
                response = await self._http.get(self.url)
                response.raise_for_status()
                self._document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                if self._document is None:
                    raise CallbackKeysUnavailable(f"Google's signing keys: {exc}") from exc
            self._fetched = time.monotonic()

    async def verify(self, body: bytes, issuer_id: str, now: datetime) -> CallbackMessage:
        await self._refresh(KEYS_TTL_SECONDS)
        try:
            return verify_callback(body, self._roots(now), issuer_id, now)
        except CallbackRejected:
            await self._refresh(KEYS_REFRESH_SECONDS)
            return verify_callback(body, self._roots(now), issuer_id, now)

    def _roots(self, now: datetime) -> list[ec.EllipticCurvePublicKey]:
        return root_keys(self._document, int(now.astimezone(UTC).timestamp() * 1000))

    async def close(self) -> None:
        await self._http.aclose()
