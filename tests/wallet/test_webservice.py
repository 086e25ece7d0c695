"""The member's pass over real HTTP: the contract's WalletPass as written, the signed download
link, and the PassKit web service as Apple Wallet calls it, with Apple's statuses."""

from __future__ import annotations

import json
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import httpx

from loyalty.core.clock import FixedClock
from tests.contract.operations import operation
from tests.support.flows import sign_up
from tests.support.server import ServerHandle
from tests.wallet.helpers import openssl_verify, rule_breaches, unzip
from wallet.devcerts import DevCertFiles

WALLET_PASS = operation("member-app/referral-wallet-inbox.graphql", "WalletPass")
PASS_TYPE = "pass.nl.trouw.demo"
DEVICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PUSH_TOKEN = "f" * 64


def local(server: ServerHandle, url: str) -> str:
    """A link made for the public address, sent to the test server instead."""
    return url.replace("https://loyalty.example.com", server.url)


def member_pass(server: ServerHandle, email: str) -> tuple[str, dict[str, str]]:
    client = server.client()
    client.token = sign_up(client, email, firstName="Noor")["session"]["accessToken"]
    found = client.data(WALLET_PASS)["me"]
    return client.token, found["walletPass"]


def test_the_wallet_pass_link_returns_the_members_signed_pass(
    wallet_server: ServerHandle, certs: DevCertFiles, wallet_clock: FixedClock, tmp_path: Path
) -> None:
    _, found = member_pass(wallet_server, "wallet@example.com")
    assert found["googleWalletSaveUrl"] is None
    url = found["appleWalletUrl"]
    assert url.startswith("https://loyalty.example.com/wallet/passes/")
    response = httpx.get(local(wallet_server, url))  # no credentials
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apple.pkpass"
    files = unzip(response.content)
    assert rule_breaches(files) == []
    assert openssl_verify(files, certs.root, tmp_path).returncode == 0
    document = json.loads(files["pass.json"])
    assert document["serialNumber"] == found["serialNumber"]
    assert document["storeCard"]["primaryFields"][0]["value"] == "Noor"
    assert document["webServiceURL"] == "https://loyalty.example.com/wallet"
    # The same serial with another signature, or after the link's lifetime: nothing.
    assert httpx.get(local(wallet_server, url[:-4] + "0000")).status_code == 404
    wallet_clock.advance(timedelta(seconds=601))
    assert httpx.get(local(wallet_server, url)).status_code == 404


def test_wallet_pass_is_the_members_own(wallet_server: ServerHandle) -> None:
    token, first = member_pass(wallet_server, "again@example.com")
    again = wallet_server.client(token).data(WALLET_PASS)["me"]["walletPass"]
    assert again["serialNumber"] == first["serialNumber"]
    anonymous = wallet_server.client().post(WALLET_PASS)
    assert anonymous["data"] is None or anonymous["data"]["me"] is None


def _pass_json(response: httpx.Response) -> dict[str, object]:
    return dict(json.loads(unzip(response.content)["pass.json"]))


def test_the_passkit_web_service_answers_as_apple_expects(wallet_server: ServerHandle) -> None:
    _, found = member_pass(wallet_server, "device@example.com")
    serial = found["serialNumber"]
    token = _pass_json(httpx.get(local(wallet_server, found["appleWalletUrl"])))[
        "authenticationToken"
    ]
    base = f"{wallet_server.url}/wallet/v1"
    registration = f"{base}/devices/{DEVICE}/registrations/{PASS_TYPE}/{serial}"
    serials = f"{base}/devices/{DEVICE}/registrations/{PASS_TYPE}"
    good = {"Authorization": f"ApplePass {token}"}
    body = {"pushToken": PUSH_TOKEN}
    http = httpx.Client()

    # Missing or wrong tokens: 401, and nothing is registered.
    assert http.post(registration, json=body).status_code == 401
    bad = {"Authorization": "ApplePass " + "x" * 32}
    assert http.post(registration, json=body, headers=bad).status_code == 401
    other_type = registration.replace(PASS_TYPE, "pass.other.type")
    assert http.post(other_type, json=body, headers=good).status_code == 401
    assert http.get(serials).status_code == 204

    assert http.post(registration, json=body, headers=good).status_code == 201
    assert http.post(registration, json=body, headers=good).status_code == 200
    assert http.post(registration, json={}, headers=good).status_code == 400

    listed = http.get(serials)
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [serial]
    tag = listed.json()["lastUpdated"]
    assert isinstance(tag, str)
    assert http.get(serials, params={"passesUpdatedSince": tag}).status_code == 204

    latest = f"{base}/passes/{PASS_TYPE}/{serial}"
    assert http.get(latest).status_code == 401
    assert http.get(latest, headers=bad).status_code == 401
    fetched = http.get(latest, headers=good)
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/vnd.apple.pkpass"
    modified = fetched.headers["last-modified"]
    assert parsedate_to_datetime(modified).tzinfo is not None
    again = http.get(latest, headers={**good, "If-Modified-Since": modified})
    assert again.status_code == 304 and again.content == b""
    earlier = format_datetime(parsedate_to_datetime(modified) - timedelta(seconds=1), usegmt=True)
    assert http.get(latest, headers={**good, "If-Modified-Since": earlier}).status_code == 200
    assert http.get(latest.replace(PASS_TYPE, "pass.other"), headers=good).status_code == 404

    logged = http.post(f"{base}/log", json={"logs": ["Web service error for pass.nl.trouw"]})
    assert logged.status_code == 200

    assert http.delete(registration, headers=bad).status_code == 401
    assert http.get(serials).status_code == 200  # still registered
    assert http.delete(registration, headers=good).status_code == 200
    assert http.get(serials).status_code == 204
