"""The client's address behind trusted proxies, and sign-in limits by that address over HTTP:
50 wrong passwords from one client do not stop the owner signing in from another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from api.core.client_address import client_address
from loyalty.core.clock import FixedClock
from tests.conftest import make_settings
from tests.support.flows import SIGN_IN, STRONG_PASSWORD, sign_up
from tests.support.server import ServerHandle, start_server

PROXIES = ["10.0.0.0/8", "127.0.0.1"]


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("10.0.0.5", "203.0.113.7", "203.0.113.7"),
        ("10.0.0.5", "1.1.1.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"),  # the left one is forged
        ("198.51.100.1", "203.0.113.7", "198.51.100.1"),  # not a trusted proxy: header ignored
        ("10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "not-an-address", "10.0.0.5"),
        ("10.0.0.5", "10.0.0.7, 10.0.0.8", "10.0.0.7"),
        ("10.0.0.5", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_forwarded_address_only_from_trusted_proxies(
    peer: str, header: str | None, expected: str
) -> None:
    assert client_address(peer, header, PROXIES) == expected
    assert client_address(peer, header, []) == peer


@pytest.fixture
def proxied(private_database: str) -> Iterator[ServerHandle]:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    settings = make_settings(
        private_database, trusted_proxies=["127.0.0.1"], signin_attempts_per_client=100
    )
    handle = start_server(settings, clock)
    try:
        yield handle
    finally:
        handle.stop()


def sign_in(server: ServerHandle, password: str, client: str) -> dict[str, object]:
    body = {
        "query": SIGN_IN,
        "variables": {"input": {"email": "o@example.com", "password": password}},
    }
    response = httpx.post(server.graphql_url, json=body, headers={"x-forwarded-for": client})
    return dict(response.json()["data"]["signIn"])


def test_fifty_wrong_passwords_from_one_client_leave_the_owner_in(proxied: ServerHandle) -> None:
    sign_up(proxied.client(), "o@example.com")
    results = [sign_in(proxied, "wrong-wrong-wrong", "203.0.113.66") for _ in range(50)]
    assert {r["userErrors"][0]["code"] for r in results} == {  # type: ignore[index]
        "INVALID_CREDENTIALS",
        "RATE_LIMITED",
    }
    assert sign_in(proxied, STRONG_PASSWORD, "203.0.113.66")["session"] is None
    owner = sign_in(proxied, STRONG_PASSWORD, "198.51.100.23")
    assert owner["userErrors"] == [] and owner["session"]
