"""FcmSender against the FCM stand-in: Google OAuth token endpoint and FCM HTTP v1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notifications.channels import PushMessage
from notifications.channels.fcm import FcmSender
from tests.support.push_standins import (
    FCM_UNAUTHENTICATED,
    FCM_UNAVAILABLE,
    FCM_UNREGISTERED,
    FcmStandIn,
    ManualClock,
    fcm_device_token,
    fcm_error,
)

DEVICE = fcm_device_token("device")
MESSAGE = PushMessage(
    title="Punten bijgeschreven",
    body="Je hebt 120 punten verdiend.",
    data={"kind": "balance_changed", "balance": "1520"},
    event_id=42,
    collapse_key="balance",
)


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def fcm_server() -> Iterator[FcmStandIn]:
    with FcmStandIn() as standin:
        yield standin


@pytest.fixture
def fcm(fcm_server: FcmStandIn, manual_clock: ManualClock) -> FcmStandIn:
    fcm_server.reset(manual_clock)
    return fcm_server


@pytest.fixture
async def sender(fcm: FcmStandIn, manual_clock: ManualClock) -> AsyncIterator[FcmSender]:
    async with FcmSender(fcm.service_account, base_url=fcm.url, clock=manual_clock) as sender:
        yield sender


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def test_a_notification_is_sent_with_the_oauth_access_token(
    sender: FcmSender, fcm: FcmStandIn
) -> None:
    result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "delivered"
    assert result.detail.startswith("projects/trouw-test/messages/")
    [request] = fcm.requests
    assert request.path == "/v1/projects/trouw-test/messages:send"
    assert request.authorization == f"Bearer {fcm.access_tokens[0]}"
    assert request.body == {
        "message": {
            "token": DEVICE,
            "notification": {
                "title": "Punten bijgeschreven",
                "body": "Je hebt 120 punten verdiend.",
            },
            "data": {"kind": "balance_changed", "balance": "1520", "event_id": "42"},
            "android": {"priority": "high", "ttl": "86400s", "collapse_key": "balance"},
        }
    }


async def test_the_access_token_comes_from_a_signed_service_account_assertion(
    sender: FcmSender, fcm: FcmStandIn, manual_clock: ManualClock
) -> None:
    await sender.send(DEVICE, MESSAGE)

    [exchange] = fcm.token_requests
    assert exchange.status == 200
    assert exchange.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    account = fcm.service_account
    public_key = serialization.load_pem_private_key(
        account["private_key"].encode(), None
    ).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    claims = jwt.decode(
        exchange.form["assertion"],
        public_key,
        algorithms=["RS256"],
        audience=account["token_uri"],
        options={"verify_exp": False, "verify_iat": False},
    )
    now = int(manual_clock())
    assert claims == {
        "iss": account["client_email"],
        "sub": account["client_email"],
        "aud": account["token_uri"],
        "scope": "https://www.googleapis.com/auth/firebase.messaging",
        "iat": now,
        "exp": now + 3600,
    }
    assert exchange.assertion_header["alg"] == "RS256"
    assert exchange.assertion_header["kid"] == account["private_key_id"]


async def test_the_access_token_is_cached_until_shortly_before_it_expires(
    sender: FcmSender, fcm: FcmStandIn, manual_clock: ManualClock
) -> None:
    devices = [fcm_device_token(f"device-{n}") for n in range(10)]
    results = await asyncio.gather(*(sender.send(d, MESSAGE) for d in devices))
    manual_clock.advance(3600 - 300 - 1)
    await sender.send(DEVICE, MESSAGE)

    assert {r.status for r in results} == {"delivered"}
    assert len(fcm.token_requests) == 1

    manual_clock.advance(1)
    assert (await sender.send(DEVICE, MESSAGE)).status == "delivered"

    assert len(fcm.token_requests) == 2
    assert fcm.requests[-1].authorization == f"Bearer {fcm.access_tokens[1]}"


async def test_a_rejected_access_token_is_replaced_and_the_push_sent_again(
    sender: FcmSender, fcm: FcmStandIn
) -> None:
    await sender.send(DEVICE, MESSAGE)
    fcm.revoke_access_tokens()

    result = await sender.send(DEVICE, MESSAGE)
    await sender.send(DEVICE, MESSAGE)

    assert result.status == "delivered"
    assert [r.status for r in fcm.requests] == [200, 401, 200, 200]
    old, new = fcm.access_tokens
    assert [r.authorization for r in fcm.requests] == [f"Bearer {t}" for t in (old, old, new, new)]


async def test_a_second_401_is_retry(sender: FcmSender, fcm: FcmStandIn) -> None:
    fcm.respond(DEVICE, FCM_UNAUTHENTICATED, FCM_UNAUTHENTICATED)

    result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert "FCM 401 UNAUTHENTICATED" in result.detail
    assert len(fcm.token_requests) == 2


async def test_an_unregistered_token_is_gone(sender: FcmSender, fcm: FcmStandIn) -> None:
    fcm.respond(DEVICE, FCM_UNREGISTERED)

    result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "gone"
    assert result.detail.startswith("FCM 404 NOT_FOUND UNREGISTERED")


async def test_a_malformed_registration_token_is_gone(sender: FcmSender) -> None:
    result = await sender.send("not a token", MESSAGE)

    assert result.status == "gone"
    assert "not a valid FCM registration token" in result.detail


async def test_unavailable_is_retry_with_the_retry_after(
    sender: FcmSender, fcm: FcmStandIn
) -> None:
    fcm.respond(DEVICE, FCM_UNAVAILABLE)

    result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert result.detail.startswith("FCM 503 UNAVAILABLE")
    assert result.detail.endswith("; retry-after=30")


async def test_a_retry_after_date_becomes_seconds(
    sender: FcmSender, fcm: FcmStandIn, manual_clock: ManualClock
) -> None:
    in_two_minutes = formatdate(manual_clock() + 120, usegmt=True)
    fcm.respond(
        DEVICE,
        fcm_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded",
            "QUOTA_EXCEEDED",
            {"retry-after": in_two_minutes},
        ),
    )

    result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert "429 RESOURCE_EXHAUSTED QUOTA_EXCEEDED" in result.detail
    assert result.detail.endswith("; retry-after=120")


async def test_a_data_only_message_has_no_notification_and_normal_priority(
    sender: FcmSender, fcm: FcmStandIn
) -> None:
    message = PushMessage(None, None, {"kind": "offer_granted"}, event_id=7)

    assert (await sender.send(DEVICE, message)).status == "delivered"

    assert fcm.requests[0].message == {
        "token": DEVICE,
        "data": {"kind": "offer_granted", "event_id": "7"},
        "android": {"priority": "normal", "ttl": "86400s"},
    }


async def test_a_message_fcm_refuses_is_a_permanent_retry_not_gone(sender: FcmSender) -> None:
    message = PushMessage("Hoi", None, {"from": "trouw"}, event_id=8)

    result = await sender.send(DEVICE, message)

    assert result.status == "retry"
    assert result.detail.startswith("permanent: FCM 400 INVALID_ARGUMENT")
    assert "Invalid data payload key: from" in result.detail


async def test_a_project_the_account_may_not_send_for_is_a_permanent_retry(
    fcm: FcmStandIn, manual_clock: ManualClock
) -> None:
    account = {**fcm.service_account, "project_id": "someone-else"}
    async with FcmSender(account, base_url=fcm.url, clock=manual_clock) as sender:
        result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert result.detail.startswith("permanent: FCM 403 PERMISSION_DENIED SENDER_ID_MISMATCH")


async def test_an_assertion_signed_with_another_key_is_retry(
    fcm: FcmStandIn, manual_clock: ManualClock
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = {
        **fcm.service_account,
        "private_key": other_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
    async with FcmSender(account, base_url=fcm.url, clock=manual_clock) as sender:
        result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert result.detail.startswith("OAuth token exchange failed: 400 invalid_grant")
    assert fcm.requests == []


async def test_after_a_failed_exchange_sends_fail_fast_for_a_few_seconds(
    fcm: FcmStandIn, manual_clock: ManualClock
) -> None:
    account = {**fcm.service_account, "client_email": "stranger@example.iam.gserviceaccount.com"}
    async with FcmSender(account, base_url=fcm.url, clock=manual_clock) as sender:
        results = await asyncio.gather(*(sender.send(DEVICE, MESSAGE) for _ in range(5)))
        manual_clock.advance(10)
        later = await sender.send(DEVICE, MESSAGE)

    assert {r.status for r in [*results, later]} == {"retry"}
    assert {r.detail for r in results} == {results[0].detail}
    assert "invalid_grant" in results[0].detail
    assert len(fcm.token_requests) == 2


async def test_an_unreachable_token_endpoint_is_retry(
    fcm: FcmStandIn, manual_clock: ManualClock
) -> None:
    account = {**fcm.service_account, "token_uri": f"{closed_port_url()}/token"}
    async with FcmSender(account, base_url=fcm.url, clock=manual_clock) as sender:
        result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert result.detail.startswith("OAuth token endpoint unreachable: ConnectError")


async def test_connection_refused_is_retry(fcm: FcmStandIn, manual_clock: ManualClock) -> None:
    async with FcmSender(
        fcm.service_account, base_url=closed_port_url(), clock=manual_clock
    ) as sender:
        result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert result.detail.startswith("FCM unreachable: ConnectError")


def test_the_service_account_must_be_complete() -> None:
    with pytest.raises(ValueError, match="private_key, token_uri"):
        FcmSender({"client_email": "a@b.iam.gserviceaccount.com", "project_id": "p"})
