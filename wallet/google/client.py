"""The Google Wallet REST API (`walletobjects/v1`): loyalty classes and objects.

Objects are made before the save link is handed out, so the link only names the object and
stays short. Creating what exists already (409) is fine: it is then brought up to date.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import google.auth.exceptions
import httpx

from wallet.google.auth import AccessTokens

GOOGLE_WALLET_API = "https://walletobjects.googleapis.com"


class GoogleWalletError(Exception):
    """Google Wallet answered with an error (or could not be reached)."""


class GoogleWalletClient:
    def __init__(self, tokens: AccessTokens, base_url: str = GOOGLE_WALLET_API) -> None:
        self._tokens = tokens
        self._http = httpx.AsyncClient(base_url=f"{base_url}/walletobjects/v1", timeout=15)

    async def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        for fresh in (False, True):
            try:
                token = await self._tokens.token(fresh=fresh)
            except google.auth.exceptions.GoogleAuthError as exc:
                raise GoogleWalletError(f"no Google access token: {exc}") from exc
            try:
                response = await self._http.request(
                    method, path, json=body, headers={"authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as exc:
                raise GoogleWalletError(f"Google Wallet unreachable: {exc}") from exc
            if response.status_code != 401:
                return response
        return response

    async def ensure(self, kind: str, resource: dict[str, Any]) -> None:
        """Create a `loyaltyClass` or `loyaltyObject`; one that exists is updated (PATCH)."""
        created = await self._call("POST", f"/{kind}", resource)
        if created.status_code == 409:
            await self.patch(kind, resource["id"], resource)
        elif created.status_code >= 300:
            raise GoogleWalletError(f"creating {kind}: {created.status_code} {created.text}")

    async def patch(self, kind: str, resource_id: str, body: dict[str, Any]) -> None:
        response = await self._call("PATCH", f"/{kind}/{quote(resource_id, safe='')}", body)
        if response.status_code >= 300:
            raise GoogleWalletError(f"updating {kind}: {response.status_code} {response.text}")

    async def close(self) -> None:
        await self._http.aclose()
        self._tokens.close()
