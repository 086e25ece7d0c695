"""OAuth access tokens for the service account, from google-auth.

google-auth signs the JWT assertion and exchanges it at the account's `token_uri`; the HTTP
call goes through a small transport on httpx (run in a thread: google-auth is synchronous).
A token is reused until google-auth says it is about to expire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import google.auth.exceptions
import google.auth.transport
import httpx
from google.oauth2 import service_account

from wallet.credentials import GoogleAccount

WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"


class _Response(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(google.auth.transport.Request):
    """google-auth's transport interface over an httpx client."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        try:
            response = self._client.request(
                method, url, content=body, headers=dict(headers or {}), timeout=timeout or 10
            )
        except httpx.HTTPError as exc:
            raise google.auth.exceptions.TransportError(str(exc)) from exc
        return _Response(response)


class AccessTokens:
    def __init__(self, account: GoogleAccount) -> None:
        self._credentials = service_account.Credentials.from_service_account_info(
            account.info, scopes=[WALLET_SCOPE]
        )
        self._http = httpx.Client()
        self._lock = asyncio.Lock()

    async def token(self, *, fresh: bool = False) -> str:
        async with self._lock:
            if fresh or not self._credentials.valid:
                await asyncio.to_thread(self._credentials.refresh, HttpxRequest(self._http))
            return str(self._credentials.token)

    def close(self) -> None:
        self._http.close()
