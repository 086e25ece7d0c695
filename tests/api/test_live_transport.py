"""The lean graphql-transport-ws transport over a real socket: the protocol's messages and
close codes, planned and unplanned subscriptions, errors as results, and the legacy
graphql-ws protocol still served."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from loyalty.core.events import OfferChanged
from loyalty.core.outbox import emit
from loyalty.storage.database import Database
from tests.api.test_websocket import bearer, closed_with, init, receive, socket
from tests.support.data import opened_id
from tests.support.server import ServerHandle

OFFERS = "subscription { offersChanged { change offer { title } } }"


@pytest.fixture
def member(server: ServerHandle) -> dict[str, Any]:
    from tests.support.flows import sign_up

    return sign_up(server.client(), "transport@example.com")


def _row_id(server: ServerHandle, member: dict[str, Any]) -> int:
    global_id = server.client(member["session"]["accessToken"]).data("{ me { id } }")["me"]["id"]
    return opened_id(global_id)[1]


async def _offer(database_url: str, member_id: int, title: str) -> None:
    db = Database(database_url)
    try:
        async with db.unit_of_work() as uow:
            offer = {"id": 3, "title": title, "kind": "free_item", "state": "available"}
            emit(
                uow.session,
                OfferChanged(member_id=member_id, change="granted", offer=offer),
                datetime.now(UTC),
            )
            await uow.commit()
    finally:
        await db.dispose()


async def _subscribe(ws: ClientConnection, op_id: str, query: str, **payload: Any) -> None:
    message = {"id": op_id, "type": "subscribe", "payload": {"query": query, **payload}}
    await ws.send(json.dumps(message))


async def _next_for(ws: ClientConnection, op_id: str, timeout: float = 5) -> dict[str, Any]:
    while True:
        message = dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
        if message.get("id") == op_id:
            return message


async def _silence(ws: ClientConnection, seconds: float = 0.6) -> list[dict[str, Any]]:
    """What arrives (pings aside) in the next moments."""
    heard = []
    try:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), seconds))
            if message["type"] not in ("ping", "pong"):
                heard.append(message)
    except TimeoutError:
        return heard


async def test_bad_messages_close_the_socket_with_4400(server: ServerHandle) -> None:
    for bad in ["not json", json.dumps({"type": "shout"}), json.dumps([1, 2]), b"\x00\x01"]:
        async with socket(server) as ws:
            await init(ws, {})
            await ws.send(bad)
            assert (await closed_with(ws))[0] == 4400, bad


async def test_a_second_init_closes_with_4429_and_a_ping_gets_a_pong(
    server: ServerHandle,
) -> None:
    async with socket(server) as ws:
        assert await init(ws, None) == {"type": "connection_ack"}
        await ws.send(json.dumps({"type": "ping"}))
        assert await receive(ws) == {"type": "pong"}
        await ws.send(json.dumps({"type": "connection_init"}))
        assert await closed_with(ws) == (4429, "Too many initialisation requests")


async def test_an_id_in_use_closes_with_4409(server: ServerHandle, member: dict[str, Any]) -> None:
    async with socket(server) as ws:
        await init(ws, bearer(member))
        await _subscribe(ws, "1", OFFERS)
        await _subscribe(ws, "1", OFFERS)
        assert await closed_with(ws) == (4409, "Subscriber for 1 already exists")


async def test_a_completed_subscription_hears_no_more_and_frees_its_id(
    server: ServerHandle, member: dict[str, Any], clean_database: str
) -> None:
    member_id = _row_id(server, member)
    async with socket(server) as ws:
        await init(ws, bearer(member))
        await _subscribe(ws, "a", OFFERS)
        await asyncio.sleep(0.3)
        await _offer(clean_database, member_id, "Eerste")
        first = await _next_for(ws, "a")
        assert first["payload"] == {
            "data": {"offersChanged": {"change": "GRANTED", "offer": {"title": "Eerste"}}}
        }
        await ws.send(json.dumps({"id": "a", "type": "complete"}))
        await _offer(clean_database, member_id, "Tweede")
        assert await _silence(ws) == []
        await _subscribe(ws, "a", OFFERS)  # the id is free again
        await asyncio.sleep(0.3)
        await _offer(clean_database, member_id, "Derde")
        again = await _next_for(ws, "a")
        assert again["payload"]["data"]["offersChanged"]["offer"]["title"] == "Derde"


async def test_a_document_without_a_plan_runs_through_the_executor(
    server: ServerHandle, member: dict[str, Any], clean_database: str
) -> None:
    """A directive (or a field with a resolver) is left to Strawberry's executor: the same
    events arrive."""
    member_id = _row_id(server, member)
    query = "subscription { offersChanged { change offer { title @include(if: true) } } }"
    async with socket(server) as ws:
        await init(ws, bearer(member))
        await _subscribe(ws, "x", query)
        await asyncio.sleep(0.3)
        await _offer(clean_database, member_id, "Via de executor")
        heard = await _next_for(ws, "x")
    assert heard["payload"]["data"]["offersChanged"]["offer"] == {"title": "Via de executor"}


async def test_errors_as_a_subscription_starts_are_a_result_then_complete(
    server: ServerHandle, member: dict[str, Any]
) -> None:
    async with socket(server) as ws:
        await init(ws, bearer(member))
        await _subscribe(ws, "c", 'subscription { balanceChanged(after: "garbage") { cursor } }')
        result = await _next_for(ws, "c")
        assert result["type"] == "next" and result["payload"]["data"] is None
        assert [e["extensions"]["code"] for e in result["payload"]["errors"]] == ["BAD_USER_INPUT"]
        assert await _next_for(ws, "c") == {"id": "c", "type": "complete"}


async def test_only_a_member_may_subscribe(server: ServerHandle) -> None:
    async with socket(server) as ws:
        await init(ws, {})
        await _subscribe(ws, "1", "subscription { balanceChanged { cursor } }")
        result = await _next_for(ws, "1")
        assert result["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await _next_for(ws, "1"))["type"] == "complete"


async def test_invalid_documents_are_an_error_and_bad_syntax_closes(
    server: ServerHandle, member: dict[str, Any]
) -> None:
    async with socket(server) as ws:
        await init(ws, bearer(member))
        await _subscribe(ws, "1", "subscription { balanceChanged { nope } }")
        refused = await _next_for(ws, "1")
        assert refused["type"] == "error"
        assert "nope" in refused["payload"][0]["message"]
        await _subscribe(ws, "2", "subscription { balanceChanged { cursor }")
        code, reason = await closed_with(ws)
    assert code == 4400 and reason.startswith("Syntax Error")


async def test_the_legacy_graphql_ws_protocol_is_still_served(
    server: ServerHandle, member: dict[str, Any], clean_database: str
) -> None:
    """Strawberry's handler serves it (subscriptions only, as before)."""
    member_id = _row_id(server, member)
    async with websockets.connect(server.ws_url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "graphql-ws"
        await ws.send(json.dumps({"type": "connection_init", "payload": bearer(member)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "2", "type": "start", "payload": {"query": OFFERS}}))
        await asyncio.sleep(0.3)
        await _offer(clean_database, member_id, "Oud protocol")
        heard = await _next_for(ws, "2")
    assert heard["payload"]["data"]["offersChanged"]["offer"]["title"] == "Oud protocol"
