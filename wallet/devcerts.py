"""Key material for development and tests: a local root, a WWDR-like intermediate, a pass
certificate issued by it, and a Google-style service-account key.

The real Apple certificates (the Pass Type ID certificate and Apple's WWDR G4 intermediate)
and the real Google service account are configuration; these stand in for them so that `make
run` and the tests build passes that verify against a root of our own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# Apple's extended key usage of Pass Type ID certificates.
PASS_CERT_USAGE = ObjectIdentifier("1.2.840.113635.100.4.14")
DEV_PASS_TYPE_ID = "pass.nl.trouw.demo"  # noqa: S105 (an identifier, not a secret)
DEV_TEAM_ID = "TROUWDEV01"
DEV_GOOGLE_ISSUER_ID = "3388000000000000000"


@dataclass(frozen=True)
class DevCertFiles:
    """Where `write_dev_certs` put each file."""

    root: Path
    wwdr: Path
    certificate: Path
    key: Path
    google_service_account: Path
    pass_type_id: str
    team_id: str


def _name(common: str, *, unit: str | None = None, uid: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if uid:
        parts.insert(0, x509.NameAttribute(NameOID.USER_ID, uid))
    if unit:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Trouw development"))
    return x509.Name(parts)


def _certificate(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    now: datetime,
    days: int,
    *,
    ca: bool,
    path_length: int | None = None,
) -> x509.Certificate:
    usage = dict.fromkeys(
        (
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, **usage),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_key is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if not ca:
        # Like Apple's: the pass type usage, and TLS client authentication, because the same
        # certificate authenticates the connection to APNs for pass update pushes.
        usages = [PASS_CERT_USAGE, ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def google_service_account(key: rsa.RSAPrivateKey, project: str) -> dict[str, str]:
    """A service-account JSON document in Google's format (its token_uri is Google's)."""
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "trouw-dev-key-1",
        "private_key": _key_pem(key).decode(),
        "client_email": f"trouw-wallet@{project}.iam.gserviceaccount.com",
        "client_id": "100000000000000000002",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def write_dev_certs(
    directory: Path,
    pass_type_id: str = DEV_PASS_TYPE_ID,
    team_id: str = DEV_TEAM_ID,
    now: datetime | None = None,
    days: int = 365,
) -> DevCertFiles:
    """Write the development key material into `directory` (created if missing)."""
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    root_key, wwdr_key, pass_key, google_key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)
    )
    root_name = _name("Trouw Development Root CA")
    wwdr_name = _name("Trouw Development WWDR Certification Authority", unit="G4")
    root = _certificate(
        root_name, root_key, root_name, root_key, now, days * 5, ca=True, path_length=1
    )
    wwdr = _certificate(
        wwdr_name, wwdr_key, root_name, root_key, now, days * 3, ca=True, path_length=0
    )
    subject = _name(f"Pass Type ID: {pass_type_id}", unit=team_id, uid=pass_type_id)
    certificate = _certificate(subject, pass_key, wwdr_name, wwdr_key, now, days, ca=False)
    files = DevCertFiles(
        root=directory / "root.pem",
        wwdr=directory / "wwdr.pem",
        certificate=directory / "pass.pem",
        key=directory / "pass.key",
        google_service_account=directory / "google-service-account.json",
        pass_type_id=pass_type_id,
        team_id=team_id,
    )
    files.root.write_bytes(_pem(root))
    files.wwdr.write_bytes(_pem(wwdr))
    files.certificate.write_bytes(_pem(certificate))
    files.key.write_bytes(_key_pem(pass_key))
    files.key.chmod(0o600)
    account = google_service_account(google_key, "trouw-dev")
    files.google_service_account.write_text(json.dumps(account, indent=2) + "\n")
    files.google_service_account.chmod(0o600)
    return files


def dev_cert_files(directory: Path) -> DevCertFiles | None:
    """The files of an earlier `write_dev_certs` in `directory`, if they are all there."""
    files = DevCertFiles(
        root=directory / "root.pem",
        wwdr=directory / "wwdr.pem",
        certificate=directory / "pass.pem",
        key=directory / "pass.key",
        google_service_account=directory / "google-service-account.json",
        pass_type_id=DEV_PASS_TYPE_ID,
        team_id=DEV_TEAM_ID,
    )
    paths = (files.root, files.wwdr, files.certificate, files.key, files.google_service_account)
    return files if all(p.is_file() for p in paths) else None
