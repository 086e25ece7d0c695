"""Pass installs and removals, recorded as events and counted: Apple Wallet's registrations
and unregistrations over the PassKit web service, and Google Wallet's save and delete
callbacks, whose signatures (Google's ECv2SigningOnly scheme, keys from the stand-in) are
checked: a callback that is unsigned, signed by someone else, for another issuer, altered or
expired is refused with 401 and changes nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.core.models import OutboxEvent
from loyalty.storage.database import Database
from tests.support.data import api_key
from tests.support.google_wallet_standin import GoogleWalletStandIn
from tests.support.server import ServerHandle, free_port
from tests.wallet.conftest import ISSUER
from tests.wallet.helpers import unzip
from tests.wallet.test_webservice import DEVICE, PASS_TYPE, PUSH_TOKEN, local, member_pass
from wallet.google.callbacks import (
    PROTOCOL,
    CallbackKeys,
    CallbackKeysUnavailable,
    CallbackRejected,
    root_keys,
    verify_callback,
)

INSTALLS = "{ walletInstalls { applePasses appleDevices googlePasses } }"
CALLBACKS = "/wallet/google/callbacks"


def wallet_events(url: str) -> list[tuple[str, dict[str, Any]]]:
    async def read() -> list[tuple[str, dict[str, Any]]]:
        db = Database(url)
        try:
            async with db.unit_of_work(write=False) as uow:
                rows = await uow.session.execute(
                    select(OutboxEvent.topic, OutboxEvent.payload)
                    .where(OutboxEvent.topic.like("wallet.%"))
                    .order_by(OutboxEvent.id)
                )
                return [(r.topic, dict(r.payload)) for r in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def installs(server: ServerHandle, url: str) -> dict[str, int]:
    admin = server.client(api_key(url, ["admin"], datetime.now(UTC), name="back office"))
    found: dict[str, int] = admin.data(INSTALLS)["walletInstalls"]
    return found


def test_apple_registrations_are_recorded_once_per_device(
    wallet_server: ServerHandle, private_database: str
) -> None:
    _, found = member_pass(wallet_server, "apple-installs@example.com")
    serial = found["serialNumber"]
    document = json.loads(
        unzip(httpx.get(local(wallet_server, found["appleWalletUrl"])).content)["pass.json"]
    )
    auth = {"Authorization": f"ApplePass {document['authenticationToken']}"}
    base = f"{wallet_server.url}/wallet/v1/devices"
    phone = f"{base}/{DEVICE}/registrations/{PASS_TYPE}/{serial}"
    watch = f"{base}/{'b' * 32}/registrations/{PASS_TYPE}/{serial}"
    assert httpx.post(phone, json={"pushToken": PUSH_TOKEN}, headers=auth).status_code == 201
    assert httpx.post(phone, json={"pushToken": PUSH_TOKEN}, headers=auth).status_code == 200
    assert httpx.post(watch, json={"pushToken": "e" * 64}, headers=auth).status_code == 201
    assert installs(wallet_server, private_database) == {
        "applePasses": 1,
        "appleDevices": 2,
        "googlePasses": 0,
    }
    # A wrong token changes nothing and records nothing.
    wrong = {"Authorization": "ApplePass " + "x" * 32}
    assert httpx.delete(phone, headers=wrong).status_code == 401
    assert httpx.delete(phone, headers=auth).status_code == 200
    assert httpx.delete(phone, headers=auth).status_code == 200  # already gone: no event
    added = {"wallet": "apple", "serial_number": serial}
    assert wallet_events(private_database) == [
        ("wallet.pass_added", added),
        ("wallet.pass_added", added),
        ("wallet.pass_removed", {**added, "reason": "removed"}),
    ]
    assert installs(wallet_server, private_database)["appleDevices"] == 1


def test_google_save_and_delete_callbacks_are_verified_and_recorded(
    google_server: ServerHandle,
    google: GoogleWalletStandIn,
    private_database: str,
    wallet_clock: FixedClock,
) -> None:
    _, found = member_pass(google_server, "google-installs@example.com")
    assert found["googleWalletSaveUrl"]
    serial, object_id = found["serialNumber"], f"{ISSUER}.{found['serialNumber']}"
    made = [b for (kind, _), b in google.resources.items() if kind == "loyaltyClass"]
    assert made[-1]["callbackOptions"] == {
        "url": "https://loyalty.example.com/wallet/google/callbacks"
    }
    now_ms = int(wallet_clock.now().timestamp() * 1000)
    url = google_server.url + CALLBACKS

    def post(body: Any) -> httpx.Response:
        return httpx.post(url, content=json.dumps(body))

    _refused_callbacks(post, google, object_id, now_ms)
    assert httpx.post(url, content=b"not json").status_code == 401
    assert wallet_events(private_database) == []
    assert installs(google_server, private_database)["googlePasses"] == 0

    save = google.callback(ISSUER, object_id, "save", now_ms)
    assert post(save).status_code == 200
    assert post(save).status_code == 200  # delivered twice: counted once
    assert installs(google_server, private_database)["googlePasses"] == 1
    assert post(google.callback(ISSUER, object_id, "del", now_ms)).status_code == 200
    assert installs(google_server, private_database)["googlePasses"] == 0
    added = {"wallet": "google", "serial_number": serial}
    assert wallet_events(private_database) == [
        ("wallet.pass_added", added),
        ("wallet.pass_removed", {**added, "reason": "removed"}),
    ]
    # An object that is not ours (a member since erased): acknowledged, nothing recorded.
    other = google.callback(ISSUER, f"{ISSUER}.unknown", "save", now_ms)
    assert post(other).status_code == 200
    assert len(wallet_events(private_database)) == 2


def _refused_callbacks(post: Any, google: GoogleWalletStandIn, object_id: str, now_ms: int) -> None:
    """Every way a callback can be untrustworthy: 401 with the reason."""
    good = google.callback(ISSUER, object_id, "save", now_ms)
    unsigned = {k: v for k, v in good.items() if k != "signature"}
    forged_root = google.callback(
        ISSUER, object_id, "save", now_ms, root=ec.generate_private_key(ec.SECP256R1())
    )
    other_issuer = google.callback("3388000000099999999", object_id, "save", now_ms)
    altered = {**good, "signedMessage": good["signedMessage"].replace('"save"', '"del"')}
    expired_key = google.callback(ISSUER, object_id, "save", now_ms, key_expiration_ms=now_ms - 1)
    cases = {
        "signature is missing": unsigned,
        "not signed by Google's root keys": forged_root,
        "does not verify": other_issuer,
        "does not verify ": altered,
        "has expired": expired_key,
        "protocolVersion": {**good, "protocolVersion": "ECv2"},
    }
    for reason, body in cases.items():
        response = post(body)
        assert response.status_code == 401, reason
        assert reason.strip() in response.text


def test_only_unexpired_ecv2_signing_only_root_keys_count(google: GoogleWalletStandIn) -> None:
    now_ms = 1_800_000_000_000
    key = {"keyValue": "", "protocolVersion": PROTOCOL, "keyExpiration": str(now_ms + 1)}
    published = httpx.get(google.keys_url).json()["keys"][0]
    assert len(root_keys({"keys": [published]}, now_ms)) == 1
    assert root_keys({"keys": [{**published, "keyExpiration": str(now_ms)}]}, now_ms) == []
    assert root_keys({"keys": [{**published, "protocolVersion": "ECv1"}]}, now_ms) == []
    assert root_keys({"keys": [key]}, now_ms) == []  # unreadable
    assert root_keys({"nothing": 1}, now_ms) == []
    # A message signed with the published key verifies only while its key lasts.
    body = json.dumps(google.callback(ISSUER, f"{ISSUER}.abc", "del", now_ms)).encode()
    roots = root_keys({"keys": [published]}, now_ms)
    message = verify_callback(body, roots, ISSUER, datetime.fromtimestamp(now_ms / 1000, UTC))
    assert (message.object_id, message.saved) == (f"{ISSUER}.abc", False)
    later = datetime.fromtimestamp(now_ms / 1000 + 2 * 86_400, UTC)
    with pytest.raises(CallbackRejected, match="intermediate signing key has expired"):
        verify_callback(body, roots, ISSUER, later)


async def test_without_googles_keys_a_callback_is_not_checked_and_not_refused_for_good(
    google: GoogleWalletStandIn,
) -> None:
    keys = CallbackKeys(f"http://127.0.0.1:{free_port()}/gp/m/issuer/keys")  # nothing there
    body = json.dumps(google.callback(ISSUER, f"{ISSUER}.abc", "save", 1_800_000_000_000))
    try:
        with pytest.raises(CallbackKeysUnavailable):
            await keys.verify(body.encode(), ISSUER, datetime.now(UTC))
    finally:
        await keys.close()
