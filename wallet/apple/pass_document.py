"""`pass.json` of a member's pass (`storeCard`), as JSON text.

Its first part, what every pass of the programme shows alike (colours, texts, stores, the
issuer's ids), is made once per programme (`programme_json`); the member's part is written
straight as text, each field from a JSON prefix made once (key, label, change message) and its
value. `pass_json` reads the whole back, for whoever wants it as a dict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

from wallet.credentials import AppleCredentials
from wallet.passes import PassProgramme, PassView

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
    return moment.astimezone(UTC).isoformat(timespec="seconds")[:-6] + "Z"


def _text(document: Any) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def programme_json(programme: PassProgramme, issuer: PassIssuer) -> str:
    """What every pass of the programme (from this issuer) shows alike: a JSON object."""
    look = programme.look
    document: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": issuer.pass_type_id,
        "teamIdentifier": issuer.credentials.team_id,
        "organizationName": issuer.organization_name,
        "description": look.description or f"{programme.name} loyalty card",
        "logoText": look.logo_text or programme.name,
        "backgroundColor": _rgb(look.background_color),
        "foregroundColor": _rgb(look.foreground_color),
        "labelColor": _rgb(look.label_color),
        "webServiceURL": issuer.web_service_url,
        "sharingProhibited": True,
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
    if look.nfc is not None:
        document["nfc"] = {
            "message": look.nfc.message,
            "encryptionPublicKey": look.nfc.encryption_public_key,
        }
    return _text(document)


@lru_cache(maxsize=64)
def _field_head(key: str, label: str, extra: tuple[tuple[str, str], ...]) -> str:
    return _text({"key": key, "label": label, **dict(extra)})[:-1] + ',"value":'


def _field(key: str, label: str, value: str | int, *extra: tuple[str, str]) -> str:
    shown = str(value) if isinstance(value, int) else encode_basestring(value)
    return _field_head(key, label, extra) + shown + "}"


def _secondary(view: PassView) -> list[str]:
    fields = []
    if view.tier is not None:
        fields.append(_field("tier", "Tier", view.tier, ("changeMessage", "You are now %@.")))
    if view.expiring_points and view.expiring_at is not None:
        fields.append(
            _field(
                "expiring", "Points expiring", view.expiring_points,
                ("changeMessage", "%@ of your points expire soon."),
            )
        )  # fmt: skip
        fields.append(
            _field(
                "expiringAt", "Expire on", _iso(view.expiring_at),
                ("dateStyle", "PKDateStyleMedium"), ("timeStyle", "PKDateStyleNone"),
            )
        )  # fmt: skip
    return fields


def _message(view: PassView) -> str:
    """The campaign message, first on the back. The field is there on every pass with the same
    key, so that Wallet sees a new message as a changed value and shows it on the lock screen
    (`changeMessage` "%@": the message itself)."""
    found = view.message
    label, value = (found.title, found.body) if found else ("News", "No news yet.")
    return _field("message", label, value, ("changeMessage", "%@"))


def _back(view: PassView) -> list[str]:
    look = view.programme.look
    fields = [_message(view)]
    if view.pending:
        fields.append(_field("pending", "Pending points", view.pending))
    offers = view.offers[:MAX_BACK_OFFERS]
    if offers:
        text = "\n\n".join(f"{o.title}\n{o.description}".strip() for o in offers)
        fields.append(
            _field("offers", "Offers", text, ("changeMessage", "Your offers have changed: %@"))
        )
    if look.terms:
        fields.append(_field("terms", "Terms", look.terms))
    if look.links:
        links = "\n".join(f'<a href="{link.url}">{link.label}</a>' for link in look.links)
        plain = "\n".join(f"{link.label}: {link.url}" for link in look.links)
        fields.append(_field("links", "Links", plain, ("attributedValue", links)))
    return fields


def _store_card(view: PassView) -> str:
    balance = _field(
        "balance", "Points", view.balance,
        ("changeMessage", "Your balance is now %@ points."),
        ("textAlignment", "PKTextAlignmentRight"),
    )  # fmt: skip
    return (
        f'{{"headerFields":[{balance}],'
        f'"primaryFields":[{_field("member", "Member", view.member_name)}],'
        f'"secondaryFields":[{",".join(_secondary(view))}],'
        f'"auxiliaryFields":[{_field("number", "Member number", view.member_number)}],'
        f'"backFields":[{",".join(_back(view))}]}}'
    )


def member_json(view: PassView) -> str:
    """The member's keys of pass.json, as JSON members (no braces), in a fixed order."""
    q, programme = encode_basestring, view.programme
    parts = [
        f'"serialNumber":{q(view.serial_number)}',
        f'"authenticationToken":{q(view.authentication_token)}',
        f'"barcodes":[{{"format":"PKBarcodeFormatQR","message":{q(view.barcode_message)},'
        f'"messageEncoding":"iso-8859-1","altText":{q(view.member_number)}}}]',
        f'"semantics":{{"membershipProgramName":{q(programme.name)},'
        f'"membershipProgramNumber":{q(view.member_number)},'
        f'"balance":{{"amount":{q(str(view.balance_value))},'
        f'"currencyCode":{q(programme.currency)}}}}}',
        f'"storeCard":{_store_card(view)}',
    ]
    dates = [
        # ISO times need no escaping.
        f'{{"startDate":"{_iso(o.valid_from or o.valid_until)}"'  # type: ignore[arg-type]
        + (f',"endDate":"{_iso(o.valid_until)}"}}' if o.valid_until else "}")
        for o in view.offers
        if o.valid_from or o.valid_until
    ]
    if dates:
        parts.append(f'"relevantDates":[{",".join(dates)}]')
    return ",".join(parts)


def pass_document(programme_part: str, view: PassView) -> bytes:
    """pass.json: the programme's part (as `programme_json` made it), then the member's."""
    return (programme_part[:-1] + "," + member_json(view) + "}").encode()


def pass_json(view: PassView, issuer: PassIssuer) -> dict[str, Any]:
    """The whole of `pass.json`, as a dict."""
    document: dict[str, Any] = json.loads(
        pass_document(programme_json(view.programme, issuer), view)
    )
    return document
