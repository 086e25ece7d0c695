"""The wallet's key material, read and checked at start-up with errors that say what is wrong.

Apple: the Pass Type ID certificate and its private key, and the WWDR intermediate that
issued it. The pass type id and team id configured must be the ones in the certificate (its
UID and OU), the key must belong to the certificate, the certificate must be valid now and
issued by the WWDR certificate given. Google: a service-account JSON key that can be read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

SignerKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class WalletConfigError(ValueError):
    """The wallet's configuration cannot work; the message says why and what to set."""


@dataclass(frozen=True, eq=False)  # one object per configuration: compared and hashed by identity
class AppleCredentials:
    pass_type_id: str
    team_id: str
    certificate: x509.Certificate
    key: SignerKey
    wwdr: x509.Certificate


@dataclass(frozen=True)
class GoogleAccount:
    """A service account's identity and key, from its JSON key file."""

    client_email: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey
    token_uri: str
    info: dict[str, Any]


def _read(path: str | Path, what: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise WalletConfigError(f"{what} ({setting}) cannot be read: {path}: {exc}") from None


def _certificate(data: bytes, what: str, setting: str) -> x509.Certificate:
    try:
        return (
            x509.load_pem_x509_certificate(data)
            if b"-----BEGIN" in data
            else x509.load_der_x509_certificate(data)
        )
    except ValueError:
        raise WalletConfigError(f"{what} ({setting}) is not a PEM or DER certificate") from None


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    found = name.get_attributes_for_oid(oid)
    return str(found[0].value) if found else None


def load_apple_credentials(
    certificate_file: str | Path,
    key_file: str | Path,
    wwdr_file: str | Path | None,
    now: datetime,
    *,
    pass_type_id: str | None = None,
    team_id: str | None = None,
    key_password: str | None = None,
) -> AppleCredentials:
    """Read and check the Apple key material; the ids default to those in the certificate."""
    cert = _certificate(
        _read(certificate_file, "the pass certificate", "TROUW_WALLET_CERTIFICATE_FILE"),
        "the pass certificate",
        "TROUW_WALLET_CERTIFICATE_FILE",
    )
    if wwdr_file is None:
        raise WalletConfigError(
            "the WWDR intermediate certificate is missing: set TROUW_WALLET_WWDR_FILE to Apple's "
            "WWDR G4 certificate (passes signed without it do not install)"
        )
    wwdr = _certificate(
        _read(wwdr_file, "the WWDR certificate", "TROUW_WALLET_WWDR_FILE"),
        "the WWDR certificate",
        "TROUW_WALLET_WWDR_FILE",
    )
    key = _private_key(_read(key_file, "the pass key", "TROUW_WALLET_KEY_FILE"), key_password)
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise WalletConfigError(
            "the pass key (TROUW_WALLET_KEY_FILE) does not belong to the pass certificate"
        )
    if now < cert.not_valid_before_utc:
        raise WalletConfigError(
            f"the pass certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
        )
    if now >= cert.not_valid_after_utc:
        raise WalletConfigError(
            f"the pass certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}: "
            "renew it in the Apple developer account"
        )
    try:
        cert.verify_directly_issued_by(wwdr)
    except (ValueError, TypeError, InvalidSignature):
        raise WalletConfigError(
            "the pass certificate was not issued by the WWDR certificate given "
            "(TROUW_WALLET_WWDR_FILE): use the WWDR intermediate that signed it (G4)"
        ) from None
    pass_type_id, team_id = _ids(cert, pass_type_id, team_id)
    return AppleCredentials(pass_type_id, team_id, cert, key, wwdr)


def _ids(cert: x509.Certificate, pass_type_id: str | None, team_id: str | None) -> tuple[str, str]:
    """The pass type id and team id: those in the certificate, checked against the settings."""
    in_cert_type = _attribute(cert.subject, NameOID.USER_ID)
    in_cert_team = _attribute(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    pass_type_id = pass_type_id or in_cert_type
    team_id = team_id or in_cert_team
    if not pass_type_id or pass_type_id != in_cert_type:
        raise WalletConfigError(
            f"TROUW_WALLET_PASS_TYPE_ID {pass_type_id!r} does not match the pass certificate "
            f"({in_cert_type!r})"
        )
    if not team_id or team_id != in_cert_team:
        raise WalletConfigError(
            f"TROUW_WALLET_TEAM_ID {team_id!r} does not match the pass certificate "
            f"({in_cert_team!r})"
        )
    return pass_type_id, team_id


def _private_key(data: bytes, password: str | None) -> SignerKey:
    try:
        key = serialization.load_pem_private_key(
            data, password.encode() if password is not None else None
        )
    except (ValueError, TypeError) as exc:
        raise WalletConfigError(
            f"the pass key (TROUW_WALLET_KEY_FILE) cannot be read: {exc} "
            "(a password-protected key needs TROUW_WALLET_KEY_PASSWORD)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise WalletConfigError("the pass key must be an RSA or EC private key")
    return key


def load_google_account(path: str | Path) -> GoogleAccount:
    """Read a service-account JSON key file, or say what is wrong with it."""
    setting = "TROUW_WALLET_GOOGLE_SERVICE_ACCOUNT_FILE"
    raw = _read(path, "the Google service-account key", setting)
    try:
        info = json.loads(raw)
        key = serialization.load_pem_private_key(info["private_key"].encode(), None)
        email, key_id = str(info["client_email"]), str(info["private_key_id"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise WalletConfigError(
            f"the Google service-account key ({setting}) is unreadable: expected the JSON key "
            "file of a service account, with client_email, private_key_id and private_key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise WalletConfigError(f"the Google service-account key ({setting}) is not an RSA key")
    token_uri = str(info.get("token_uri") or "https://oauth2.googleapis.com/token")
    return GoogleAccount(email, key_id, key, token_uri, info)
