"""Hostile input gets a reason, never a crash: undecodable bodies, control characters, NUL
bytes, lone surrogates, oversized text, dates out of range, on SQLite and PostgreSQL alike;
and every HTTP response carries the security headers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.core.input_check import DEFAULT_MAX_LENGTH, MAX_LENGTHS
from loyalty.core.clock import FixedClock
from tests.api.helpers import api_key, contract
from tests.support.data import install
from tests.support.flows import SIGN_UP, STRONG_PASSWORD, sign_up
from tests.support.server import GraphQLClient, ServerHandle

POS = contract("pos/pos.graphql")
LINES = [{"sku": "KOF-CAP", "category": "koffie", "quantity": "1", "unitPrice": "3.40"}]
UPDATE_PROFILE = """
mutation UpdateProfile($input: UpdateProfileInput!) {
  updateProfile(input: $input) { userErrors { field message code } }
}"""


def send(
    client: GraphQLClient, query: str, variables: dict[str, Any], operation: str | None = None
) -> dict[str, Any]:
    """Post with JSON's \\u escapes, as a client must to send a lone surrogate."""
    body = {"query": query, "variables": variables, "operationName": operation}
    headers = {"content-type": "application/json"}
    if client.token:
        headers["authorization"] = f"Bearer {client.token}"
    response = client.http.post(client.url, content=json.dumps(body), headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def data(
    client: GraphQLClient, query: str, variables: dict[str, Any], op: str | None = None
) -> Any:
    result = send(client, query, variables, op)
    assert not result.get("errors"), result["errors"]
    return result["data"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


@pytest.fixture
def till(server: ServerHandle, server_clock: FixedClock, database_url: str) -> GraphQLClient:
    install(database_url)
    return server.client(api_key(database_url, ["pos"], server_clock.now()))


@pytest.fixture
def barcode(server: ServerHandle) -> str:
    member = sign_up(server.client(), "card@example.com")
    client = server.client(member["session"]["accessToken"])
    return str(client.data("{ me { card { barcodeMessage } } }")["me"]["card"]["barcodeMessage"])


def purchase(till: GraphQLClient, **fields: Any) -> dict[str, Any]:
    variables = {"input": {"externalId": "T-1", "lines": LINES, **fields}}
    return dict(data(till, POS, variables, "RecordPurchase")["recordPurchase"])


def test_an_undecodable_body_is_400_with_a_reason(server: ServerHandle) -> None:
    body = b'{"query": "{ __typename }", "variables": {"x": "\xff\xfe"}}'
    response = httpx.post(
        server.graphql_url, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "UTF-8" in response.text


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("firstName", "Ann\x00", "INVALID_TEXT"),
        ("lastName", "\ud800", "INVALID_TEXT"),
        ("firstName", "bell\x07", "INVALID_TEXT"),
        ("lastName", "x" * (DEFAULT_MAX_LENGTH + 1), "TEXT_TOO_LONG"),
        ("birthDate", "0001-01-01", "INVALID_DATE"),
    ],
)
def test_bad_text_in_a_name_is_a_user_error(
    server: ServerHandle, field: str, value: str, code: str
) -> None:
    variables = {"input": {"email": "x@example.com", "password": STRONG_PASSWORD, field: value}}
    payload = data(server.client(), SIGN_UP, variables)["signUp"]
    assert codes(payload) == [code]
    assert payload["userErrors"][0]["field"] == ["input", field]
    assert payload["member"] is None


def test_a_signed_in_member_cannot_store_a_nul_either(server: ServerHandle) -> None:
    member = sign_up(server.client(), "nul@example.com")
    client = server.client(member["session"]["accessToken"])
    variables = {"input": {"firstName": "A\x00B", "interests": ["\udfff"]}}
    payload = data(client, UPDATE_PROFILE, variables)
    assert codes(payload["updateProfile"]) == ["INVALID_TEXT", "INVALID_TEXT"]
    assert [e["field"] for e in payload["updateProfile"]["userErrors"]] == [
        ["input", "firstName"],
        ["input", "interests", "0"],
    ]


def test_the_tills_crashers_are_user_errors(till: GraphQLClient, barcode: str) -> None:
    member = {"barcodeMessage": barcode}
    assert codes(purchase(till, member=member, externalId="T\x00")) == ["INVALID_TEXT"]
    assert codes(purchase(till, member={"barcodeMessage": "AB\x00"})) == ["INVALID_TEXT"]
    too_long = "s" * 600_000  # under the 1 MB body limit
    assert codes(purchase(till, member=member, store=too_long)) == ["TEXT_TOO_LONG"]
    assert codes(purchase(till, member=member, occurredAt="0001-01-01T00:00:00+00:00")) == [
        "INVALID_DATE"
    ]
    lines = [{**LINES[0], "unitPrice": "NaN"}]
    assert codes(purchase(till, member=member, lines=lines)) == ["INPUT_TOO_LARGE"]
    # And nothing of it was stored: the purchase goes through once the input is right.
    assert codes(purchase(till, member=member)) == []


def test_bad_text_in_a_query_argument_is_a_coded_error(till: GraphQLClient) -> None:
    for bad in ["\x00", "\ud800", "x" * (DEFAULT_MAX_LENGTH + 1)]:
        result = send(till, POS, {"barcodeMessage": bad}, "LookupMember")
        assert result["data"] == {"memberByCard": None}
        assert [e["extensions"]["code"] for e in result["errors"]] in (
            ["INVALID_TEXT"],
            ["TEXT_TOO_LONG"],
        )


def test_longer_fields_take_their_documented_length(till: GraphQLClient, barcode: str) -> None:
    reason = "r" * MAX_LENGTHS["reason"]
    adjust = {"member": {"barcodeMessage": barcode}, "points": 1, "reason": reason + "r"}
    result = send(till, POS, {"input": adjust}, "AdjustPoints")
    assert result["data"]["adjustPoints"]["userErrors"][0]["code"] == "TEXT_TOO_LONG"


def test_security_headers_on_every_response(server: ServerHandle) -> None:
    api = httpx.post(server.graphql_url, json={"query": "{ __typename }"})
    page = httpx.get(server.graphql_url, headers={"accept": "text/html"})
    health = httpx.get(f"{server.url}/healthz")
    for response in (api, page, health):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert "unpkg" not in page.headers["content-security-policy"]
    assert api.headers["content-security-policy"].startswith("default-src 'none'")
    # No CORS unless origins are configured.
    preflight = httpx.options(
        server.graphql_url,
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
