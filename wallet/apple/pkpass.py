"""A member's Apple Wallet pass (`storeCard`), built from a `PassView` and signed.

The archive is built deterministically: `pass.json` with sorted keys, files in name order,
fixed zip timestamps, images cached per look. The same view gives the same pass.json, images
and manifest; only the signature's signing time tells two builds apart.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from wallet.apple.archive import stored_zip
from wallet.apple.images import pass_images
from wallet.apple.signing import sign_manifest
from wallet.apple.strings import LANGUAGES, pass_strings
from wallet.credentials import AppleCredentials
from wallet.passes import PassView

CONTENT_TYPE = "application/vnd.apple.pkpass"
MAX_LOCATIONS = 10  # Wallet watches at most ten locations per pass
MAX_BACK_OFFERS = 5


@dataclass(frozen=True)
class PassIssuer:
    """Who issues the passes: the certificate's ids, the organisation and the web service."""

    credentials: AppleCredentials
    organization_name: str
    web_service_url: str  # Wallet appends /v1/...

    @property
    def pass_type_id(self) -> str:
        return self.credentials.pass_type_id


def _rgb(colour: str) -> str:
    return f"rgb({int(colour[1:3], 16)}, {int(colour[3:5], 16)}, {int(colour[5:7], 16)})"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fields(view: PassView) -> dict[str, list[dict[str, Any]]]:
    header = [
        {
            "key": "balance",
            "label": "Points",
            "value": view.balance,
            "changeMessage": "Your balance is now %@ points.",
            "textAlignment": "PKTextAlignmentRight",
        }
    ]
    primary = [{"key": "member", "label": "Member", "value": view.member_name}]
    secondary: list[dict[str, Any]] = []
    if view.tier is not None:
        secondary.append(
            {"key": "tier", "label": "Tier", "value": view.tier, "changeMessage": "You are now %@."}
        )
    if view.expiring_points and view.expiring_at is not None:
        secondary.append(
            {
                "key": "expiring",
                "label": "Points expiring",
                "value": view.expiring_points,
                "changeMessage": "%@ of your points expire soon.",
            }
        )
        secondary.append(
            {
                "key": "expiringAt",
                "label": "Expire on",
                "value": _iso(view.expiring_at),
                "dateStyle": "PKDateStyleMedium",
                "timeStyle": "PKDateStyleNone",
            }
        )
    auxiliary = [{"key": "number", "label": "Member number", "value": view.member_number}]
    return {
        "headerFields": header,
        "primaryFields": primary,
        "secondaryFields": secondary,
        "auxiliaryFields": auxiliary,
        "backFields": _back_fields(view),
    }


def _back_fields(view: PassView) -> list[dict[str, Any]]:
    look = view.programme.look
    back: list[dict[str, Any]] = []
    if view.pending:
        back.append({"key": "pending", "label": "Pending points", "value": view.pending})
    offers = view.offers[:MAX_BACK_OFFERS]
    if offers:
        text = "\n\n".join(f"{o.title}\n{o.description}".strip() for o in offers)
        back.append(
            {"key": "offers", "label": "Offers", "value": text,
             "changeMessage": "Your offers have changed: %@"}
        )  # fmt: skip
    if look.terms:
        back.append({"key": "terms", "label": "Terms", "value": look.terms})
    if look.links:
        links = "\n".join(f'<a href="{link.url}">{link.label}</a>' for link in look.links)
        plain = "\n".join(f"{link.label}: {link.url}" for link in look.links)
        back.append({"key": "links", "label": "Links", "value": plain, "attributedValue": links})
    return back


def pass_json(view: PassView, issuer: PassIssuer) -> dict[str, Any]:
    programme, look = view.programme, view.programme.look
    document: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": issuer.pass_type_id,
        "teamIdentifier": issuer.credentials.team_id,
        "serialNumber": view.serial_number,
        "organizationName": issuer.organization_name,
        "description": look.description or f"{programme.name} loyalty card",
        "logoText": look.logo_text or programme.name,
        "backgroundColor": _rgb(look.background_color),
        "foregroundColor": _rgb(look.foreground_color),
        "labelColor": _rgb(look.label_color),
        "webServiceURL": issuer.web_service_url,
        "authenticationToken": view.authentication_token,
        "sharingProhibited": True,
        "barcodes": [
            {
                "format": "PKBarcodeFormatQR",
                "message": view.barcode_message,
                "messageEncoding": "iso-8859-1",
                "altText": view.member_number,
            }
        ],
        "semantics": {
            "membershipProgramName": programme.name,
            "membershipProgramNumber": view.member_number,
            "balance": {"amount": str(view.balance_value), "currencyCode": programme.currency},
        },
        "storeCard": _fields(view),
    }
    locations = [
        {
            "latitude": store.latitude,
            "longitude": store.longitude,
            "relevantText": look.store_text.replace("{store}", store.name),
        }
        for store in programme.stores[:MAX_LOCATIONS]
    ]
    if locations:
        document["locations"] = locations
    dates = [
        {
            "startDate": _iso(o.valid_from or o.valid_until),  # type: ignore[arg-type]
            **({"endDate": _iso(o.valid_until)} if o.valid_until else {}),
        }
        for o in view.offers
        if o.valid_from or o.valid_until
    ]
    if dates:
        document["relevantDates"] = dates
    if look.nfc is not None:
        document["nfc"] = {
            "message": look.nfc.message,
            "encryptionPublicKey": look.nfc.encryption_public_key,
        }
    return document


def pass_files(view: PassView, issuer: PassIssuer) -> dict[str, bytes]:
    """Every file of the pass but the manifest and the signature, by name."""
    # Without `indent` the json module's C encoder does the work.
    document = json.dumps(
        pass_json(view, issuer), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    files = {"pass.json": document.encode()}
    files.update(pass_images(view.programme.look, view.programme.name))
    for language in LANGUAGES:
        files[f"{language}.lproj/pass.strings"] = pass_strings(language)
    return files


@lru_cache(maxsize=256)
def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324 (Apple's format)


def manifest(files: dict[str, bytes]) -> bytes:
    """`manifest.json`: the hex SHA-1 of every file, by name (the images' and strings' digests
    are remembered: they are the same for every pass of a programme)."""
    digests = {
        name: _sha1(data) if name != "pass.json" else hashlib.sha1(data).hexdigest()  # noqa: S324
        for name, data in sorted(files.items())
    }
    return json.dumps(digests, sort_keys=True, separators=(",", ":")).encode()


def build_pkpass(view: PassView, issuer: PassIssuer) -> bytes:
    """The signed .pkpass archive of `view`."""
    files = pass_files(view, issuer)
    files["manifest.json"] = manifest(files)
    files["signature"] = sign_manifest(files["manifest.json"], issuer.credentials)
    return stored_zip(files)
