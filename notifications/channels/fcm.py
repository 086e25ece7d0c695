"""Firebase Cloud Messaging (FCM HTTP v1) client for Android app pushes.

Authentication is a Google OAuth 2.0 access token for the service account: an RS256 JWT
assertion signed with the account's private key (`iss` = `sub` = client_email, `aud` =
token_uri, `scope` = firebase.messaging, one hour) is exchanged at `token_uri`
(grant type jwt-bearer). The access token is reused until `TOKEN_REFRESH_MARGIN` before it
expires; concurrent sends share one exchange, and for `EXCHANGE_RETRY_PAUSE` seconds after a
failed exchange sends fail at once without trying again. One HTTP connection pool is kept
open; close the sender when done.

Messages with a title or body carry a `notification` and go out with Android priority
"high"; data-only messages are silent updates and go out "normal" (as on iOS, where they are
background pushes with priority 5).

How FCM answers map onto `PushResult` (the worker deletes the device on "gone", retries
"retry" with backoff and dead-letters it after its maximum attempts):

- 200 → "delivered" (detail: the message name).
- errorCode UNREGISTERED (404 NOT_FOUND), and 400 INVALID_ARGUMENT about the registration
  token (FCM says "The registration token is not a valid FCM registration token", or a field
  violation names `message.token`) → "gone". These are the only answers about the token.
- 401 → fetch a new access token and try once more at once; a second 401 → "retry".
- 429, 5xx, timeouts and connection errors (to FCM or to the token endpoint) → "retry"; a
  Retry-After from FCM is passed on as `retry-after=<seconds>` in the detail.
- Every other answer (other 400s such as a reserved data key or a message over 4 KB, 403
  SENDER_ID_MISMATCH or PERMISSION_DENIED, a 404 without UNREGISTERED) is a fault in our
  configuration or message: "retry" with a detail starting "permanent:", so it dead-letters and
  the device is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from notifications.channels.base import PushMessage, PushResult

FCM_BASE_URL = "https://fcm.googleapis.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600
TOKEN_REFRESH_MARGIN = 300
EXCHANGE_RETRY_PAUSE = 10
DEFAULT_TTL = 24 * 60 * 60

_REQUIRED_FIELDS = ("client_email", "private_key", "token_uri", "project_id")
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


class TokenExchangeError(Exception):
    """The OAuth token endpoint could not be reached or refused the assertion."""


@dataclass(frozen=True)
class _AccessToken:
    value: str
    expires_at: float


def fcm_message(token: str, message: PushMessage, ttl: int = DEFAULT_TTL) -> dict[str, Any]:
    """The HTTP v1 `message` object for one device.

    `data` is the message's data plus `event_id`, on which the app deduplicates (delivery is
    at least once).
    """
    fields = (("title", message.title), ("body", message.body))
    notification = {key: value for key, value in fields if value is not None}
    android: dict[str, Any] = {"priority": "high" if notification else "normal", "ttl": f"{ttl}s"}
    if message.collapse_key is not None:
        android["collapse_key"] = message.collapse_key
    body: dict[str, Any] = {"token": token}
    if notification:
        body["notification"] = notification
    body["data"] = {**message.data, "event_id": str(message.event_id)}
    body["android"] = android
    return body


class FcmSender:
    """Sends pushes to Android devices through FCM HTTP v1."""

    platform = "android"

    def __init__(
        self,
        service_account: Mapping[str, Any],
        base_url: str = FCM_BASE_URL,
        *,
        clock: Callable[[], float] = time.time,
        ttl: int = DEFAULT_TTL,
        timeout: float = 10.0,
    ) -> None:
        missing = [field for field in _REQUIRED_FIELDS if not service_account.get(field)]
        if missing:
            raise ValueError(f"the service account lacks {', '.join(missing)}")
        key = load_pem_private_key(service_account["private_key"].encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the service account's private_key must be an RSA key")
        self.client_email: str = service_account["client_email"]
        self.token_uri: str = service_account["token_uri"]
        self.project_id: str = service_account["project_id"]
        self._key = key
        self._key_id: str | None = service_account.get("private_key_id")
        self._clock = clock
        self._ttl = ttl
        self._token: _AccessToken | None = None
        self._failure: tuple[float, str] | None = None  # (until when, why) after a failed exchange
        self._token_lock = asyncio.Lock()
        self._send_path = f"/v1/projects/{quote(self.project_id, safe='')}/messages:send"
        self._http = httpx.AsyncClient(http2=True, base_url=base_url, timeout=timeout)

    async def __aenter__(self) -> FcmSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, token: str, message: PushMessage) -> PushResult:
        body = {"message": fcm_message(token, message, self._ttl)}
        resent = False
        while True:
            try:
                access_token = await self._access_token()
                response = await self._http.post(
                    self._send_path,
                    json=body,
                    headers={"authorization": f"Bearer {access_token}"},
                )
            except TokenExchangeError as exc:
                return PushResult("retry", str(exc))
            except httpx.TransportError as exc:
                return PushResult("retry", f"FCM unreachable: {exc.__class__.__name__} {exc}")
            if not resent and response.status_code == 401:
                self._discard_token(access_token)
                resent = True
                continue
            return self._result(response)

    async def _access_token(self) -> str:
        token = self._token
        if token is not None and self._clock() < token.expires_at - TOKEN_REFRESH_MARGIN:
            return token.value
        async with self._token_lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at - TOKEN_REFRESH_MARGIN:
                # Sends queued behind a failed exchange fail at once instead of each waiting
                # out its own timeout against an endpoint that is down.
                if self._failure is not None and self._clock() < self._failure[0]:
                    raise TokenExchangeError(self._failure[1])
                try:
                    token = self._token = await self._exchange()
                except TokenExchangeError as exc:
                    self._failure = (self._clock() + EXCHANGE_RETRY_PAUSE, str(exc))
                    raise
                self._failure = None
            return token.value

    async def _exchange(self) -> _AccessToken:
        now = int(self._clock())
        headers = {"kid": self._key_id} if self._key_id else None
        assertion = jwt.encode(
            {
                "iss": self.client_email,
                "sub": self.client_email,
                "aud": self.token_uri,
                "scope": FCM_SCOPE,
                "iat": now,
                "exp": now + ASSERTION_LIFETIME,
            },
            self._key,
            algorithm="RS256",
            headers=headers,
        )
        try:
            response = await self._http.post(
                self.token_uri, data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
            )
        except httpx.TransportError as exc:
            raise TokenExchangeError(
                f"OAuth token endpoint unreachable: {exc.__class__.__name__} {exc}"
            ) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200 or not isinstance(answer, dict):
            error = ""
            if isinstance(answer, dict):
                error = f" {answer.get('error', '')}: {answer.get('error_description', '')}"
            raise TokenExchangeError(f"OAuth token exchange failed: {response.status_code}{error}")
        value = answer.get("access_token")
        if not isinstance(value, str) or not value:
            raise TokenExchangeError("OAuth token exchange answered without an access_token")
        expires_in = answer.get("expires_in", ASSERTION_LIFETIME)
        return _AccessToken(value, now + float(expires_in))

    def _discard_token(self, rejected: str) -> None:
        if self._token is not None and self._token.value == rejected:
            self._token = None

    def _result(self, response: httpx.Response) -> PushResult:
        status = response.status_code
        if status == 200:
            try:
                name = response.json().get("name", "")
            except (ValueError, AttributeError):
                name = ""
            return PushResult("delivered", str(name))
        error = _error(response)
        state = str(error.get("status", ""))
        message = str(error.get("message", ""))
        codes, token_violation = _details(error)
        token_violation |= "registration token" in message.lower()
        detail = f"FCM {status} {' '.join([state, *codes])}".rstrip()
        if message:
            detail = f"{detail}: {message}"
        if "UNREGISTERED" in codes or (state == "INVALID_ARGUMENT" and token_violation):
            return PushResult("gone", detail)
        if status in (401, 429) or status >= 500:
            if (seconds := _retry_after(response, self._clock())) is not None:
                detail = f"{detail}; retry-after={seconds}"
            return PushResult("retry", detail)
        return PushResult("retry", f"permanent: {detail}")


def _error(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _details(error: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The FCM error codes, and whether a violation names the registration token."""
    codes: list[str] = []
    token_violation = False
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        kind = detail.get("@type")
        if kind == _FCM_ERROR_TYPE and isinstance(detail.get("errorCode"), str):
            codes.append(detail["errorCode"])
        elif kind == _BAD_REQUEST_TYPE:
            violations = detail.get("fieldViolations") or []
            token_violation |= any(
                isinstance(v, dict) and v.get("field") == "message.token" for v in violations
            )
    return codes, token_violation


def _retry_after(response: httpx.Response, now: float) -> int | None:
    """Retry-After in whole seconds from now; the header is either seconds or an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, round(when.timestamp() - now))
