"""The "Add to Google Wallet" link: `https://pay.google.com/gp/v/save/<jwt>`, an RS256 JWT
signed with the service account's key (google-auth's signer) that names the member's existing
loyalty object only, so the link stays well under Google's 1,800 characters."""

from __future__ import annotations

import time

from google.auth import crypt, jwt

from wallet.credentials import GoogleAccount

SAVE_URL = "https://pay.google.com/gp/v/save/"


def save_link(account: GoogleAccount, object_id: str, origins: list[str]) -> str:
    signer = crypt.RSASigner.from_service_account_info(account.info)
    claims = {
        "iss": account.client_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(time.time()),
        "origins": origins,
        "payload": {"loyaltyObjects": [{"id": object_id}]},
    }
    token = jwt.encode(signer, claims)
    return SAVE_URL + token.decode()
