"""Subscriptions over websockets follow the same rules as requests over HTTP: documents by
their hash, only registered ones where the server runs registered documents only (the legacy
graphql-ws protocol refused there), and every argument through the hostile-input check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from api.core.persisted import sha256_of
from loyalty.core.clock import FixedClock
from tests.api.test_live_transport import _next_for, _offer, _silence, _subscribe
from tests.api.test_websocket import bearer, init, receive, socket
from tests.conftest import make_settings
from tests.contract.operations import operation
from tests.support.data import opened_id
from tests.support.flows import STRONG_PASSWORD, sign_up
from tests.support.server import ServerHandle, start_server

OFFERS = operation("member-app/live.graphql", "OnOffersChanged")
SIGN_UP = operation("member-app/auth.graphql", "SignUp")


@pytest.fixture
def strict(private_database: str, clock: FixedClock) -> Iterator[ServerHandle]:
    """A server of its own (its own relay and bus) that runs registered documents only."""
    handle = start_server(make_settings(private_database, persisted_only=True), clock)
    try:
        yield handle
    finally:
        handle.stop()


def _signed_up(strict: ServerHandle) -> dict[str, Any]:
    """A member signed up with the contract's own document (the only kind `strict` runs)."""
    variables = {"input": {"email": "strict@example.com", "password": STRONG_PASSWORD}}
    payload = strict.client().data(SIGN_UP, variables)["signUp"]
    assert payload["userErrors"] == []
    return dict(payload)


@pytest.fixture
def member(server: ServerHandle) -> dict[str, Any]:
    return sign_up(server.client(), "registered-live@example.com")


def _by_hash(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_of(text)}}


def _codes(message: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in message["payload"]]


async def test_a_registered_subscription_by_hash_alone_runs_where_only_those_may(
    strict: ServerHandle, private_database: str
) -> None:
    member = _signed_up(strict)
    member_id = opened_id(member["member"]["id"])[1]
    async with socket(strict) as ws:
        await init(ws, bearer(member))
        await ws.send(
            json.dumps(
                {"id": "h", "type": "subscribe", "payload": {"extensions": _by_hash(OFFERS)}}
            )
        )
        assert await _silence(ws, 0.3) == []
        await _offer(private_database, member_id, "Op hash")
        heard = await _next_for(ws, "h")
    assert heard["payload"]["data"]["offersChanged"]["offer"]["title"] == "Op hash"


async def test_an_unregistered_subscription_is_refused_and_the_socket_stays(
    strict: ServerHandle,
) -> None:
    member = _signed_up(strict)
    async with socket(strict) as ws:
        await init(ws, bearer(member))
        await _subscribe(ws, "u", "subscription { offersChanged { change } }")
        refused = await _next_for(ws, "u")
        assert refused["type"] == "error"
        assert _codes(refused) == ["PERSISTED_QUERY_REQUIRED"]
        unknown = {
            "extensions": _by_hash("subscription { balanceChanged { balance { available } } }")
        }
        await ws.send(json.dumps({"id": "v", "type": "subscribe", "payload": unknown}))
        assert _codes(await _next_for(ws, "v")) == ["PERSISTED_QUERY_REQUIRED"]
        await ws.send(json.dumps({"type": "ping"}))
        assert await receive(ws) == {"type": "pong"}


async def test_the_legacy_protocol_is_refused_where_only_registered_documents_run(
    strict: ServerHandle, server: ServerHandle
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(strict.ws_url, subprotocols=["graphql-ws"], open_timeout=5)  # type: ignore[list-item]
    assert refused.value.response.status_code == 403
    async with websockets.connect(server.ws_url, subprotocols=["graphql-ws"]) as legacy:  # type: ignore[list-item]
        assert legacy.subprotocol == "graphql-ws"


@pytest.mark.parametrize(
    "document",
    [
        "subscription S($after: String) { offersChanged(after: $after) { change } }",
        # A directive leaves it to Strawberry's executor: the same check there.
        "subscription S($after: String) {"
        " offersChanged(after: $after) { change @include(if: true) } }",
    ],
)
async def test_a_hostile_cursor_gets_the_input_checks_code(
    server: ServerHandle, member: dict[str, Any], document: str
) -> None:
    async with socket(server) as ws:
        await init(ws, bearer(member))
        await _subscribe(ws, "c", document, variables={"after": "abc\u0000def"})
        answer = await _next_for(ws, "c")
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["INVALID_TEXT"]
