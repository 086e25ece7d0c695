"""Apple Push Notification service (APNs) client: app pushes and wallet pass update pushes.

Token-based provider authentication: every request carries `authorization: bearer <JWT>`, an
ES256 JWT signed with the team's .p8 key (header `alg`, `kid`; claims `iss` = team id, `iat`).
One JWT is reused for `TOKEN_LIFETIME` (50 minutes): APNs rejects tokens older than an hour and
answers TooManyProviderTokenUpdates when a provider signs new ones more often than every 20
minutes. One HTTP/2 connection is kept open and multiplexed; close the sender when done.

`send()` is the app channel (topic = the bundle id). `send_raw()` posts any payload to any
topic; a wallet pass update is `send_raw(push_token, pass_type_id, {})`.

How APNs answers map onto `PushResult` (the worker deletes the device on "gone", retries
"retry" with backoff and dead-letters it after its maximum attempts):

- 200 → "delivered" (detail: the apns-id).
- 410 (Unregistered, ExpiredToken), 400 BadDeviceToken, 400 DeviceTokenNotForTopic → "gone".
  These are the only answers about the device token itself. Beware: a sandbox token sent to
  production (or the reverse) also reads BadDeviceToken, so point `base_url` at the right host.
- 403 ExpiredProviderToken / InvalidProviderToken → sign a new JWT and try once more at once,
  provided the rejected JWT is at least 20 minutes old (else a new one could only trip
  TooManyProviderTokenUpdates); otherwise "retry".
- 429, 5xx, timeouts and connection errors → "retry" (transient).
- Every other answer (other 400s such as BadTopic or BadCollapseId, other 403s, 404, 405, 413
  PayloadTooLarge) is a fault in our configuration or message, not in the device: "retry" with
  a detail that starts "permanent:", so it dead-letters and the device is kept.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from notifications.channels.base import PushMessage, PushResult

APNS_PRODUCTION = "https://api.push.apple.com"
APNS_SANDBOX = "https://api.sandbox.push.apple.com"

TOKEN_LIFETIME = 50 * 60
MIN_TOKEN_AGE_FOR_FORCED_REFRESH = 20 * 60
DEFAULT_EXPIRATION = 24 * 60 * 60

PushType = Literal["alert", "background"]

_GONE_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})
_PROVIDER_TOKEN_REASONS = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})
# Fixed, so that the apns-id of one event to one device is the same in every process and retry.
_APNS_ID_NAMESPACE = uuid.UUID("5f0c7e1a-3c55-4c1e-9d0b-6a1f2b7e9a41")


def apns_id_for(event_id: int, token: str) -> str:
    """The apns-id of event `event_id` pushed to device `token`: stable across retries."""
    return str(uuid.uuid5(_APNS_ID_NAMESPACE, f"{event_id}/{token}"))


def app_payload(message: PushMessage) -> tuple[dict[str, Any], PushType]:
    """The APNs payload and push type for an app message.

    With a title or body it is an alert; with neither it is a silent background push that
    only carries `data` (`content-available`). The custom keys are `data` plus `event_id`, on
    which the app deduplicates (delivery is at least once).
    """
    fields = (("title", message.title), ("body", message.body))
    alert = {key: value for key, value in fields if value is not None}
    aps: dict[str, Any]
    push_type: PushType
    if alert:
        aps, push_type = {"alert": alert, "sound": "default"}, "alert"
    else:
        aps, push_type = {"content-available": 1}, "background"
    return {**message.data, "event_id": str(message.event_id), "aps": aps}, push_type


class ApnsSender:
    """Sends pushes to Apple devices over one reused HTTP/2 connection."""

    platform = "ios"

    def __init__(
        self,
        team_id: str,
        key_id: str,
        private_key_pem: str | bytes,
        topic: str,
        base_url: str = APNS_PRODUCTION,
        ca_file: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
        *,
        expiration: int = DEFAULT_EXPIRATION,
        timeout: float = 10.0,
    ) -> None:
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        key = load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the APNs key must be the P-256 EC key from the .p8 file")
        self.team_id = team_id
        self.key_id = key_id
        self.topic = topic
        self._key = key
        self._clock = clock
        self._expiration = expiration
        self._jwt: str | None = None
        self._jwt_issued_at = 0.0
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=os.fspath(ca_file)) if ca_file else True
        )
        self._http = httpx.AsyncClient(
            http2=True, base_url=base_url, verify=verify, timeout=timeout
        )

    async def __aenter__(self) -> ApnsSender:
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
        payload, push_type = app_payload(message)
        return await self.send_raw(
            token,
            self.topic,
            payload,
            push_type=push_type,
            event_id=message.event_id,
            collapse_id=message.collapse_key,
        )

    async def send_raw(
        self,
        token: str,
        topic: str,
        payload: Mapping[str, Any],
        *,
        push_type: PushType = "background",
        event_id: int | None = None,
        collapse_id: str | None = None,
        expires_at: int | None = None,
    ) -> PushResult:
        """Post `payload` to `token` under `topic` (a bundle id, or a pass type id with `{}`).

        The priority follows the push type: 10 for alerts, 5 for background pushes (Apple
        requires 5 there). `expires_at` (UNIX seconds, 0 = try once) defaults to now plus the
        sender's `expiration`.
        """
        headers = {
            "apns-topic": topic,
            "apns-push-type": push_type,
            "apns-priority": "10" if push_type == "alert" else "5",
            "apns-expiration": str(
                int(self._clock()) + self._expiration if expires_at is None else expires_at
            ),
        }
        if event_id is not None:
            headers["apns-id"] = apns_id_for(event_id, token)
        if collapse_id is not None:
            headers["apns-collapse-id"] = collapse_id
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return await self._post(f"/3/device/{quote(token, safe='')}", body, headers)

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> PushResult:
        """Post with the provider token, signing a new one once if APNs rejects it."""
        resent = False
        while True:
            provider_token = self._provider_token()
            headers["authorization"] = f"bearer {provider_token}"
            try:
                response = await self._http.post(path, content=body, headers=headers)
            except httpx.TransportError as exc:
                return unreachable(exc)
            reason = reason_of(response)
            if (
                not resent
                and response.status_code == 403
                and reason in _PROVIDER_TOKEN_REASONS
                and self._discard_provider_token(provider_token)
            ):
                resent = True
                continue
            return result_of(response, reason)

    def _provider_token(self) -> str:
        now = self._clock()
        if self._jwt is None or now - self._jwt_issued_at >= TOKEN_LIFETIME:
            issued_at = int(now)
            self._jwt = jwt.encode(
                {"iss": self.team_id, "iat": issued_at},
                self._key,
                algorithm="ES256",
                headers={"kid": self.key_id, "typ": None},
            )
            self._jwt_issued_at = issued_at
        return self._jwt

    def _discard_provider_token(self, rejected: str) -> bool:
        """Forget a JWT that APNs rejected; True when a retry would carry a different one."""
        if rejected != self._jwt:
            return True  # another send has already signed a newer one
        if self._clock() - self._jwt_issued_at < MIN_TOKEN_AGE_FOR_FORCED_REFRESH:
            return False
        self._jwt = None
        return True


def unreachable(exc: httpx.TransportError) -> PushResult:
    return PushResult("retry", f"APNs unreachable: {exc.__class__.__name__} {exc}")


def reason_of(response: httpx.Response) -> str:
    if response.status_code == 200:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else ""


def result_of(response: httpx.Response, reason: str) -> PushResult:
    status = response.status_code
    if status == 200:
        return PushResult("delivered", response.headers.get("apns-id", ""))
    detail = f"APNs {status} {reason}".rstrip()
    if status == 410 or (status == 400 and reason in _GONE_REASONS):
        return PushResult("gone", detail)
    if status == 429 or status >= 500:
        return PushResult("retry", detail)
    if status == 403 and reason in _PROVIDER_TOKEN_REASONS:
        return PushResult("retry", f"{detail} (check the clock, team id, key id and .p8 key)")
    return PushResult("retry", f"permanent: {detail} (check the APNs configuration)")
