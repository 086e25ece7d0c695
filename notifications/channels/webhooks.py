"""Webhooks: events POSTed as JSON to the brand's systems, signed with HMAC-SHA256.

Each request carries:

- `Trouw-Event-Id`: the outbox event id; the same on every retry and every duplicate.
- `Trouw-Event-Type`: the event's name (`loyalty.core.events`), e.g. `balance.changed`.
- `Trouw-Timestamp`: unix seconds when this attempt was signed.
- `Trouw-Signature`: `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`.
- `Trouw-Request-Id`: the id of the API request that made the change, when one did (not
  signed; for joining up logs).

The body is `{"id", "type", "occurred_at", "member_id", "data"}`, `data` being the event's
payload (`Event.to_payload()`; docs/webhooks.md lists them all). Receivers verify the
signature over the raw bytes, reject timestamps more than five minutes away from their clock
(replay protection) and deduplicate on the event id (delivery is at least once). See
docs/webhooks.md.

Answers: 2xx delivered; 410 the endpoint is gone (dead); 408 and 429 try again; any other
4xx is a permanent refusal (dead); 3xx (redirects are not followed) dead; 5xx, timeouts and
connection errors try again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta

import httpx

from loyalty.core.events import Event, Recorded
from loyalty.core.opaque_ids import OpaqueIds
from notifications.channels.base import Delivery
from notifications.config import WebhookEndpoint

SIGNATURE_HEADER = "Trouw-Signature"
REQUEST_ID_HEADER = "Trouw-Request-Id"
TOLERANCE = timedelta(minutes=5)
USER_AGENT = "Trouw-Webhooks/1"


def body_of(recorded: Recorded[Event], ids: OpaqueIds) -> bytes:
    """The event as the receiver gets it; `member_id` is the member's id as the GraphQL API
    shows it (opaque, made with the installation's key)."""
    event = recorded.event
    document = {
        "id": recorded.id,
        "type": event.name,
        "occurred_at": recorded.occurred_at.isoformat(),
        "member_id": ids.seal("Member", event.member_id) if event.member_id is not None else None,
        "data": event.to_payload(),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, now: datetime, tolerance: timedelta = TOLERANCE
) -> bool:
    """What a receiver does (and our tests): the signature matches the raw body and the
    timestamp is recent. Several `v1=` values may be present (e.g. while rotating secrets)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)


def headers_for(
    endpoint: WebhookEndpoint, recorded: Recorded[Event], body: bytes, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Trouw-Event-Id": str(recorded.id),
        "Trouw-Event-Type": recorded.event.name,
        "Trouw-Timestamp": str(timestamp),
        SIGNATURE_HEADER: signature_header(endpoint.secret, timestamp, body),
    }
    if recorded.request_id is not None:
        # Not signed: it joins the delivery up with the request in logs, nothing more.
        headers[REQUEST_ID_HEADER] = recorded.request_id
    return headers


def _retry_after(response: httpx.Response, now: datetime) -> datetime | None:
    raw = response.headers.get("retry-after", "").strip()
    if raw.isdigit():
        return now + timedelta(seconds=int(raw))
    return None


def outcome_of(response: httpx.Response, now: datetime) -> Delivery:
    status = response.status_code
    if 200 <= status < 300:
        return Delivery.ok(f"HTTP {status}")
    if status == 410:
        return Delivery.dead("HTTP 410: the endpoint is gone")
    if status in (408, 429):
        retry = Delivery.retry(f"HTTP {status}")
        until = _retry_after(response, now)
        return Delivery("retry", retry.detail, until=until) if until else retry
    if 300 <= status < 500:
        return Delivery.dead(f"HTTP {status}")
    return Delivery.retry(f"HTTP {status}")


async def post(
    http: httpx.AsyncClient,
    endpoint: WebhookEndpoint,
    recorded: Recorded[Event],
    now: datetime,
    timeout: float,  # noqa: ASYNC109 - httpx's own per-request timeout, not a cancel scope
    ids: OpaqueIds,
) -> Delivery:
    """One attempt. Never raises for what the network or the receiver does."""
    body = body_of(recorded, ids)
    try:
        async with http.stream(
            "POST",
            endpoint.url,
            content=body,
            headers=headers_for(endpoint, recorded, body, now),
            timeout=timeout,
            follow_redirects=False,
        ) as response:
            # The answer's body is not ours to read: only its status counts.
            return outcome_of(response, now)
    except httpx.TimeoutException:
        return Delivery.retry("timeout")
    except httpx.HTTPError as exc:
        return Delivery.retry(f"{exc.__class__.__name__}: {exc}"[:300])
