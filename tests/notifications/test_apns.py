"""ApnsSender against the APNs stand-in: HTTP/2 over TLS on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notifications.channels import PushMessage
from notifications.channels.apns import ApnsSender, apns_id_for
from notifications.channels.apns_passes import PassUpdateSender
from tests.support.push_standins import (
    DROP_CONNECTION,
    EXPIRED_PROVIDER_TOKEN,
    SERVICE_UNAVAILABLE,
    TOO_MANY_REQUESTS,
    UNREGISTERED,
    ApnsKey,
    ApnsStandIn,
    ManualClock,
    apns_device_token,
    make_apns_key,
)
from wallet.devcerts import write_dev_certs

TOPIC = "nl.trouw.app"
PASS_TYPE_ID = "pass.nl.trouw.loyalty"
DEVICE = apns_device_token("device")
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


@pytest.fixture
def apns_key() -> ApnsKey:
    return make_apns_key()


@pytest.fixture
async def apns(apns_key: ApnsKey, manual_clock: ManualClock) -> AsyncIterator[ApnsStandIn]:
    async with ApnsStandIn(apns_key, TOPIC, [PASS_TYPE_ID], manual_clock) as standin:
        yield standin


def make_sender(
    apns: ApnsStandIn, key: ApnsKey, clock: ManualClock, topic: str = TOPIC
) -> ApnsSender:
    return ApnsSender(
        key.team_id,
        key.key_id,
        key.pem,
        topic,
        base_url=apns.url,
        ca_file=apns.ca_file,
        clock=clock,
    )


@pytest.fixture
async def sender(
    apns: ApnsStandIn, apns_key: ApnsKey, manual_clock: ManualClock
) -> AsyncIterator[ApnsSender]:
    async with make_sender(apns, apns_key, manual_clock) as sender:
        yield sender


async def test_an_alert_is_delivered_with_the_apns_headers_and_payload(
    sender: ApnsSender, apns: ApnsStandIn, manual_clock: ManualClock
) -> None:
    result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "delivered"
    assert result.detail == apns_id_for(42, DEVICE)
    [request] = apns.requests
    assert (request.method, request.path) == ("POST", f"/3/device/{DEVICE}")
    assert request.headers["apns-topic"] == TOPIC
    assert request.headers["apns-push-type"] == "alert"
    assert request.headers["apns-priority"] == "10"
    assert request.headers["apns-id"] == str(uuid.UUID(request.headers["apns-id"]))
    assert request.headers["apns-collapse-id"] == "balance"
    assert request.headers["apns-expiration"] == str(int(manual_clock()) + 24 * 3600)
    assert request.payload == {
        "aps": {
            "alert": {"title": "Punten bijgeschreven", "body": "Je hebt 120 punten verdiend."},
            "sound": "default",
        },
        "kind": "balance_changed",
        "balance": "1520",
        "event_id": "42",
    }


async def test_the_provider_token_is_an_es256_jwt_signed_with_the_p8_key(
    sender: ApnsSender, apns: ApnsStandIn, apns_key: ApnsKey, manual_clock: ManualClock
) -> None:
    await sender.send(DEVICE, MESSAGE)

    [request] = apns.requests
    assert request.headers["authorization"].startswith("bearer ")
    token = request.provider_token
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": apns_key.key_id}
    claims = jwt.decode(
        token, apns_key.public_key, algorithms=["ES256"], options={"verify_iat": False}
    )
    assert claims == {"iss": apns_key.team_id, "iat": int(manual_clock())}


async def test_one_jwt_and_one_http2_connection_serve_many_pushes(
    sender: ApnsSender, apns: ApnsStandIn, manual_clock: ManualClock
) -> None:
    tokens = [apns_device_token(f"device-{n}") for n in range(20)]
    results = await asyncio.gather(*(sender.send(token, MESSAGE) for token in tokens))
    manual_clock.advance(49 * 60)
    later = await sender.send(DEVICE, MESSAGE)

    assert {r.status for r in results} == {"delivered"} and later.status == "delivered"
    assert len({r.provider_token for r in apns.requests}) == 1
    assert apns.connections_accepted == 1


async def test_the_jwt_is_refreshed_after_50_minutes(
    sender: ApnsSender, apns: ApnsStandIn, manual_clock: ManualClock
) -> None:
    await sender.send(DEVICE, MESSAGE)
    first_iat = apns.requests[0].jwt_claims["iat"]
    manual_clock.advance(50 * 60)

    assert (await sender.send(DEVICE, MESSAGE)).status == "delivered"

    refreshed = apns.requests[1]
    assert refreshed.provider_token != apns.requests[0].provider_token
    assert refreshed.jwt_claims["iat"] == first_iat + 50 * 60


async def test_retries_of_one_event_carry_the_same_apns_id(
    sender: ApnsSender, apns: ApnsStandIn
) -> None:
    apns.respond(DEVICE, SERVICE_UNAVAILABLE)

    first = await sender.send(DEVICE, MESSAGE)
    second = await sender.send(DEVICE, MESSAGE)
    other_event = await sender.send(DEVICE, PushMessage("Hoi", None, {}, event_id=43))

    assert first.status == "retry" and "503 ServiceUnavailable" in first.detail
    assert second.status == other_event.status == "delivered"
    ids = [r.headers["apns-id"] for r in apns.requests]
    assert ids[0] == ids[1] == apns_id_for(42, DEVICE)
    assert ids[2] == apns_id_for(43, DEVICE) != ids[0]
    assert [r.headers["apns-collapse-id"] for r in apns.requests[:2]] == ["balance"] * 2
    assert "apns-collapse-id" not in apns.requests[2].headers


async def test_an_unregistered_device_is_gone(sender: ApnsSender, apns: ApnsStandIn) -> None:
    gone = apns_device_token("gone")
    apns.respond(gone, UNREGISTERED)

    result = await sender.send(gone, MESSAGE)

    assert result.status == "gone"
    assert "410 Unregistered" in result.detail


async def test_a_malformed_device_token_is_gone(sender: ApnsSender, apns: ApnsStandIn) -> None:
    result = await sender.send("not-a-device-token", MESSAGE)

    assert result.status == "gone"
    assert "400 BadDeviceToken" in result.detail


async def test_throttling_is_retry(sender: ApnsSender, apns: ApnsStandIn) -> None:
    apns.respond(DEVICE, TOO_MANY_REQUESTS)

    result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert "429 TooManyRequests" in result.detail


async def test_an_expired_provider_token_is_replaced_and_the_push_sent_again(
    sender: ApnsSender, apns: ApnsStandIn, manual_clock: ManualClock
) -> None:
    await sender.send(DEVICE, MESSAGE)
    manual_clock.advance(25 * 60)
    apns.respond(DEVICE, EXPIRED_PROVIDER_TOKEN)

    result = await sender.send(DEVICE, MESSAGE)
    await sender.send(DEVICE, MESSAGE)

    assert result.status == "delivered"
    first, rejected, resent, reused = apns.requests
    assert rejected.reason == "ExpiredProviderToken"
    assert rejected.provider_token == first.provider_token
    assert resent.provider_token != rejected.provider_token
    assert resent.jwt_claims["iat"] == int(manual_clock())
    assert resent.headers["apns-id"] == rejected.headers["apns-id"]
    assert reused.provider_token == resent.provider_token


async def test_a_fresh_jwt_is_not_replaced_when_apns_rejects_it(
    sender: ApnsSender, apns: ApnsStandIn
) -> None:
    # APNs refuses provider token updates more often than every 20 minutes.
    apns.respond(DEVICE, EXPIRED_PROVIDER_TOKEN)

    result = await sender.send(DEVICE, MESSAGE)
    await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert "403 ExpiredProviderToken" in result.detail
    assert len(apns.requests) == 2
    assert apns.requests[0].provider_token == apns.requests[1].provider_token


async def test_a_key_apns_does_not_know_is_retry_not_gone(
    apns: ApnsStandIn, apns_key: ApnsKey, manual_clock: ManualClock
) -> None:
    other = make_apns_key(apns_key.team_id, apns_key.key_id)
    async with make_sender(apns, other, manual_clock) as sender:
        result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert "403 InvalidProviderToken" in result.detail


async def test_a_topic_apns_refuses_is_a_permanent_retry_not_gone(
    apns: ApnsStandIn, apns_key: ApnsKey, manual_clock: ManualClock
) -> None:
    async with make_sender(apns, apns_key, manual_clock, topic="com.example.other") as sender:
        result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert result.detail.startswith("permanent: APNs 400 TopicDisallowed")


async def test_a_payload_over_4kb_is_a_permanent_retry(sender: ApnsSender) -> None:
    message = PushMessage("Hoi", "x" * 5000, {}, event_id=1)

    result = await sender.send(DEVICE, message)

    assert result.status == "retry"
    assert result.detail.startswith("permanent: APNs 413 PayloadTooLarge")


async def test_without_title_and_body_it_is_a_background_push(
    sender: ApnsSender, apns: ApnsStandIn
) -> None:
    message = PushMessage(None, None, {"kind": "offer_granted"}, event_id=7)

    assert (await sender.send(DEVICE, message)).status == "delivered"

    [request] = apns.requests
    assert request.headers["apns-push-type"] == "background"
    assert request.headers["apns-priority"] == "5"
    assert request.payload == {
        "aps": {"content-available": 1},
        "kind": "offer_granted",
        "event_id": "7",
    }


async def test_a_wallet_pass_update_is_an_empty_payload_under_the_pass_type_id(
    sender: ApnsSender, apns: ApnsStandIn
) -> None:
    pass_token = apns_device_token("wallet")

    result = await sender.send_raw(pass_token, PASS_TYPE_ID, {}, event_id=9)

    assert result.status == "delivered"
    [request] = apns.requests
    assert request.path == f"/3/device/{pass_token}"
    assert request.headers["apns-topic"] == PASS_TYPE_ID
    assert request.headers["apns-push-type"] == "background"
    assert request.headers["apns-priority"] == "5"
    assert request.headers["apns-id"] == apns_id_for(9, pass_token)
    assert request.body == b"{}"


async def test_a_wallet_pass_whose_registration_is_gone(
    sender: ApnsSender, apns: ApnsStandIn
) -> None:
    pass_token = apns_device_token("wallet")
    apns.respond(pass_token, UNREGISTERED)

    assert (await sender.send_raw(pass_token, PASS_TYPE_ID, {})).status == "gone"


async def test_a_dropped_connection_is_retry_and_the_next_push_reconnects(
    sender: ApnsSender, apns: ApnsStandIn
) -> None:
    apns.respond(DEVICE, DROP_CONNECTION)

    dropped = await sender.send(DEVICE, MESSAGE)
    again = await sender.send(DEVICE, MESSAGE)

    assert dropped.status == "retry" and dropped.detail.startswith("APNs unreachable")
    assert again.status == "delivered"
    assert apns.connections_accepted == 2


async def test_connection_refused_is_retry(
    apns: ApnsStandIn, apns_key: ApnsKey, manual_clock: ManualClock
) -> None:
    async with ApnsStandIn(apns_key, TOPIC) as stopped:
        url = stopped.url
    sender = ApnsSender(
        apns_key.team_id,
        apns_key.key_id,
        apns_key.pem,
        TOPIC,
        base_url=url,
        ca_file=apns.ca_file,
        clock=manual_clock,
    )
    async with sender:
        result = await sender.send(DEVICE, MESSAGE)

    assert result.status == "retry"
    assert result.detail.startswith("APNs unreachable: ConnectError")


async def test_the_key_must_be_a_p256_key() -> None:
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )

    with pytest.raises(ValueError, match="P-256"):
        ApnsSender("TEAM", "KEY", rsa_pem, TOPIC)


async def test_the_stand_in_speaks_only_http2(apns: ApnsStandIn) -> None:
    context = ssl.create_default_context(cafile=apns.ca_file)
    async with httpx.AsyncClient(verify=context) as http1_only:
        with pytest.raises(httpx.TransportError):
            await http1_only.post(f"{apns.url}/3/device/{DEVICE}", content=b"{}")


async def test_pass_updates_go_over_the_pass_certificate_not_the_token_key(
    apns_key: ApnsKey, tmp_path: Path
) -> None:
    """As Apple requires for Wallet: the connection presents the pass type certificate (whose
    UID is the topic); a pass update signed with the team's token key is refused."""
    certs = write_dev_certs(tmp_path)
    pass_type = certs.pass_type_id
    cas = [certs.root, certs.wwdr]
    clock = ManualClock()
    async with ApnsStandIn(
        apns_key, TOPIC, [pass_type], clock, pass_certificate_cas=cas
    ) as standin:
        passes = PassUpdateSender(
            certs.certificate, certs.key, pass_type, standin.url, ca_file=standin.ca_file
        )
        async with passes:
            assert (await passes.send_raw(DEVICE, pass_type, {})).status == "delivered"
        request = standin.requests[-1]
        assert request.certificate_uid == pass_type and "authorization" not in request.headers
        async with make_sender(standin, apns_key, clock) as token_only:
            refused = await token_only.send_raw(DEVICE, pass_type, {})
            assert refused.status == "retry"
            assert refused.detail.startswith("permanent: APNs 403 BadCertificate")
            # App pushes on the same stand-in still go with the token.
            assert (await token_only.send(DEVICE, MESSAGE)).status == "delivered"
