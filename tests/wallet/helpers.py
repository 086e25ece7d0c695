"""Key material and pass views for the wallet tests, and Apple's rules for pass.json."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from loyalty.programme.offers_spec import StoreSpec
from loyalty.programme.wallet_spec import WalletLink, WalletSpec
from wallet.apple.pkpass import PassIssuer
from wallet.credentials import load_apple_credentials
from wallet.devcerts import DevCertFiles, write_dev_certs
from wallet.passes import PassOffer, PassProgramme, PassView

STYLES = ("boardingPass", "coupon", "eventTicket", "generic", "storeCard")
REQUIRED = (
    "formatVersion",
    "passTypeIdentifier",
    "serialNumber",
    "teamIdentifier",
    "organizationName",
    "description",
)


@cache
def dev_certs(directory: Path) -> DevCertFiles:
    return write_dev_certs(directory)


def issuer(files: DevCertFiles, url: str = "https://loyalty.example.com/wallet") -> PassIssuer:
    credentials = load_apple_credentials(
        files.certificate, files.key, files.wwdr, datetime.now(UTC)
    )
    return PassIssuer(credentials, "Koffiebar Trouw BV", url)


def view(**changes: Any) -> PassView:
    now = datetime(2027, 3, 1, 12, tzinfo=UTC)
    programme = PassProgramme(
        key="demo",
        name="Koffiebar Trouw",
        currency="EUR",
        point_value=Decimal("0.01"),
        timezone="Europe/Amsterdam",
        look=WalletSpec(
            terms="Punten vervallen na een jaar.",
            links=(WalletLink(label="Website", url="https://koffiebar.example"),),
        ),
        stores=(StoreSpec(key="dam", name="Dam", latitude=52.37, longitude=4.89),),
    )
    values: dict[str, Any] = {
        "serial_number": "s3r1al",
        "authentication_token": "t" * 32,
        "member_name": "Noor Visser",
        "member_number": "1234 5678 90",
        "barcode_message": "TRW1234567890",
        "balance": 1250,
        "pending": 40,
        "tier": "Zilver",
        "expiring_points": 100,
        "expiring_at": now + timedelta(days=20),
        "programme": programme,
        "offers": (
            PassOffer("ontbijt", "Gratis croissant", "Bij je koffie", now, now + timedelta(7)),
        ),
    }
    values.update(changes)
    return PassView(**values)


def unzip(pkpass: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def openssl_verify(
    files: dict[str, bytes], root: Path, tmp: Path
) -> subprocess.CompletedProcess[str]:
    (tmp / "manifest.json").write_bytes(files["manifest.json"])
    (tmp / "signature").write_bytes(files["signature"])
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp / "signature"),
         "-content", str(tmp / "manifest.json"), "-CAfile", str(root), "-purpose", "any",
         "-out", "/dev/null"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def rule_breaches(files: dict[str, bytes]) -> list[str]:
    """What in a pass breaks Apple's rules for pass.json and the manifest."""
    problems: list[str] = []
    document = json.loads(files["pass.json"])
    problems += [f"missing {key}" for key in REQUIRED if key not in document]
    styles = [s for s in STYLES if s in document]
    if len(styles) != 1:
        problems.append(f"one style expected, found {styles}")
    if ("webServiceURL" in document) != ("authenticationToken" in document):
        problems.append("webServiceURL and authenticationToken go together")
    if len(document.get("authenticationToken", "x" * 16)) < 16:
        problems.append("authenticationToken shorter than 16 characters")
    if not str(document.get("webServiceURL", "https://")).startswith("https://"):
        problems.append("webServiceURL is not https")
    keys: list[str] = []
    for area in document[styles[0]].values() if styles else []:
        for item in area:
            keys.append(item["key"])
            if "changeMessage" in item and "%@" not in item["changeMessage"]:
                problems.append(f"changeMessage of {item['key']} has no %@")
    if len(keys) != len(set(keys)):
        problems.append(f"field keys are not unique: {keys}")
    if "icon.png" not in files:
        problems.append("icon.png is missing")
    listed = json.loads(files["manifest.json"])
    expected = {
        name: hashlib.sha1(data).hexdigest()
        for name, data in files.items()
        if name not in ("manifest.json", "signature")
    }
    if listed != expected:
        problems.append("manifest.json does not list every file with its SHA-1")
    return problems
