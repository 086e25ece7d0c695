"""The `signature` of a pass: a detached PKCS#7 (CMS, RFC 5652) signature of the exact bytes
of `manifest.json`, in DER, with the pass certificate as signer, Apple's WWDR intermediate
beside it and a signing time.

Everything in the signature but three values is the same for every pass an installation
signs: the certificates, the signer's issuer and serial number, the algorithms. Those parts
are encoded once per set of credentials; a pass adds its manifest's SHA-256, the signing time
and the RSA signature over the signed attributes, so signing a pass costs little more than
the RSA signature itself (`bench/bench_passes.py`). An EC key (which Apple does not issue for
passes) is signed through `cryptography`'s PKCS#7 builder instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from wallet.credentials import AppleCredentials

OPTIONS = [
    pkcs7.PKCS7Options.DetachedSignature,
    pkcs7.PKCS7Options.Binary,
    pkcs7.PKCS7Options.NoCapabilities,
]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, *content: bytes) -> bytes:
    body = b"".join(content)
    return bytes([tag]) + _length(len(body)) + body


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(p) for p in dotted.split("."))
    out = bytearray([first * 40 + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc := arc >> 7:
            chunk.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _integer(n: int) -> bytes:
    return _tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


SEQUENCE, SET, OCTETS, UTC_TIME, NULL = 0x30, 0x31, 0x04, 0x17, b"\x05\x00"
DATA = _oid("1.2.840.113549.1.7.1")
SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
SHA256 = _tlv(SEQUENCE, _oid("2.16.840.1.101.3.4.2.1"))
RSA = _tlv(SEQUENCE, _oid("1.2.840.113549.1.1.1"), NULL)
CONTENT_TYPE = _tlv(SEQUENCE, _oid("1.2.840.113549.1.9.3"), _tlv(SET, DATA))
SIGNING_TIME = _oid("1.2.840.113549.1.9.5")
MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")


def _signature(signer_id: bytes, head: bytes, attributes: bytes, signature: bytes) -> bytes:
    """The ContentInfo around one SignerInfo."""
    signer_info = _tlv(
        SEQUENCE,
        signer_id,
        _tlv(0xA0, attributes),  # the signed attributes, under the implicit tag [0]
        RSA,
        _tlv(OCTETS, signature),
    )
    signed_data = _tlv(SEQUENCE, head, _tlv(SET, signer_info))
    return _tlv(SEQUENCE, SIGNED_DATA, _tlv(0xA0, signed_data))


_UTC_TIME_LENGTH = len("YYMMDDHHMMSSZ")
_ST_PREFIX = _tlv(SEQUENCE, SIGNING_TIME, _tlv(SET, _tlv(UTC_TIME, b"-" * _UTC_TIME_LENGTH)))[
    :-_UTC_TIME_LENGTH
]
_MD_PREFIX = _tlv(SEQUENCE, MESSAGE_DIGEST, _tlv(SET, _tlv(OCTETS, b"-" * 32)))[:-32]
_ATTRIBUTES_LENGTH = len(CONTENT_TYPE) + len(_ST_PREFIX) + _UTC_TIME_LENGTH + len(_MD_PREFIX) + 32
_SIGNED_SET = _tlv(SET, b"-" * _ATTRIBUTES_LENGTH)[:-_ATTRIBUTES_LENGTH]


@dataclass(frozen=True)
class _Template:
    """The signature of a pass around what differs from pass to pass: everything before the
    signed attributes, and between them and the RSA signature (all of fixed length for one
    key)."""

    key: rsa.RSAPrivateKey
    before: bytes
    between: bytes


@lru_cache(maxsize=8)
def _template(credentials: AppleCredentials) -> _Template:
    assert isinstance(credentials.key, rsa.RSAPrivateKey)
    cert, wwdr = credentials.certificate, credentials.wwdr
    der = serialization.Encoding.DER
    issuer_and_serial = _tlv(SEQUENCE, cert.issuer.public_bytes(), _integer(cert.serial_number))
    signer_id = _integer(1) + issuer_and_serial + SHA256
    head = b"".join(
        (
            _integer(1),
            _tlv(SET, SHA256),
            _tlv(SEQUENCE, DATA),  # detached: no content
            _tlv(0xA0, cert.public_bytes(der), wwdr.public_bytes(der)),
        )
    )
    size = (credentials.key.key_size + 7) // 8
    between = RSA + _tlv(OCTETS, b"-" * size)[:-size]
    whole = _signature(signer_id, head, b"-" * _ATTRIBUTES_LENGTH, b"-" * size)
    before = whole[: len(whole) - size - len(between) - _ATTRIBUTES_LENGTH]
    return _Template(credentials.key, before, between)


def _signed_attributes(manifest: bytes, now: datetime) -> bytes:
    """The contents of the signed attributes' SET, in DER order (their encodings sorted):
    content type, signing time, message digest."""
    when = now.astimezone(UTC).strftime("%y%m%d%H%M%SZ").encode()
    digest = hashlib.sha256(manifest).digest()
    return b"".join((CONTENT_TYPE, _ST_PREFIX, when, _MD_PREFIX, digest))


def sign_manifest(
    manifest: bytes, credentials: AppleCredentials, now: datetime | None = None
) -> bytes:
    if not isinstance(credentials.key, rsa.RSAPrivateKey):
        return _sign_with_builder(manifest, credentials)
    template = _template(credentials)
    attributes = _signed_attributes(manifest, now or datetime.now(UTC))
    # The signature covers the attributes encoded as a SET.
    signed = template.key.sign(_SIGNED_SET + attributes, padding.PKCS1v15(), hashes.SHA256())
    return b"".join((template.before, attributes, template.between, signed))


def _sign_with_builder(manifest: bytes, credentials: AppleCredentials) -> bytes:
    # The WWDR certificate is added last: `set_data` and `add_signer` return builders that
    # drop certificates added before them.
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(credentials.certificate, credentials.key, hashes.SHA256())
        .add_certificate(credentials.wwdr)
    )
    return builder.sign(serialization.Encoding.DER, OPTIONS)
