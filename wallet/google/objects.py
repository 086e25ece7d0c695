"""The Google Wallet loyalty class (one per programme) and loyalty object (one per member),
made from the same `PassView` as the Apple pass."""

from __future__ import annotations

from typing import Any

from wallet.passes import PassProgramme, PassView


def class_id(issuer_id: str, programme: PassProgramme) -> str:
    return f"{issuer_id}.trouw-{programme.key}"


def object_id(issuer_id: str, serial_number: str) -> str:
    return f"{issuer_id}.{serial_number}"


def loyalty_class(
    issuer_id: str, programme: PassProgramme, logo_url: str, callback_url: str
) -> dict[str, Any]:
    look = programme.look
    return {
        "id": class_id(issuer_id, programme),
        "issuerName": programme.name,
        "programName": look.logo_text or programme.name,
        "programLogo": {"sourceUri": {"uri": logo_url}},
        "hexBackgroundColor": look.background_color,
        "reviewStatus": "UNDER_REVIEW",
        "countryCode": "NL",
        # Where Google posts its signed save and delete callbacks.
        "callbackOptions": {"url": callback_url},
        "locations": [
            {"latitude": s.latitude, "longitude": s.longitude} for s in programme.stores[:10]
        ],
    }


def loyalty_object(issuer_id: str, view: PassView) -> dict[str, Any]:
    text = []
    if view.message is not None:  # the latest campaign message, as on the Apple pass's back
        text.append({"id": "message", "header": view.message.title, "body": view.message.body})
    if view.tier:
        text.append({"id": "tier", "header": "Tier", "body": view.tier})
    if view.expiring_points and view.expiring_at:
        text.append(
            {
                "id": "expiring",
                "header": "Points expiring",
                "body": f"{view.expiring_points} on {view.expiring_at:%Y-%m-%d}",
            }
        )
    for offer in view.offers:
        text.append({"id": f"offer-{offer.key}", "header": offer.title, "body": offer.description})
    return {
        "id": object_id(issuer_id, view.serial_number),
        "classId": class_id(issuer_id, view.programme),
        "state": "ACTIVE",
        "accountId": view.member_number,
        "accountName": view.member_name,
        "loyaltyPoints": {"label": "Points", "balance": {"int": view.balance}},
        "barcode": {
            "type": "QR_CODE",
            "value": view.barcode_message,
            "alternateText": view.member_number,
        },
        "textModulesData": text,
    }
