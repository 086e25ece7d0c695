"""Idle websockets are kept alive by the server, on both protocols: graphql-transport-ws gets
`ping` messages (which the client answers with `pong`), the legacy graphql-ws gets `ka`
messages, every `TROUW_WS_KEEPALIVE_SECONDS`. Proxies and phone networks drop sockets that
stay silent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from loyalty.core.clock import FixedClock
from tests.conftest import make_settings
from tests.support.server import ServerHandle, start_server

INTERVAL = 0.2


@pytest.fixture
def pinging(clean_database: str) -> Iterator[ServerHandle]:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    server = start_server(make_settings(clean_database, ws_keepalive_seconds=INTERVAL), clock)
    try:
        yield server
    finally:
        server.stop()


async def receive(ws: ClientConnection) -> dict[str, Any]:
    # Generous: the server pings every INTERVAL; this only bounds a hang.
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout=10)))


async def test_graphql_transport_ws_is_pinged_while_idle(pinging: ServerHandle) -> None:
    protocol: Any = "graphql-transport-ws"
    async with websockets.connect(pinging.ws_url, subprotocols=[protocol]) as ws:
        assert ws.subprotocol == protocol
        await ws.send(json.dumps({"type": "connection_init"}))
        assert (await receive(ws))["type"] == "connection_ack"
        for _ in range(3):
            assert (await receive(ws))["type"] == "ping"
            await ws.send(json.dumps({"type": "pong"}))
        # Still usable after the pings.
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        )
        answer = await receive(ws)
        while answer["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            answer = await receive(ws)
        assert answer == {"id": "1", "type": "next", "payload": {"data": {"__typename": "Query"}}}


async def test_the_legacy_graphql_ws_gets_keep_alives(pinging: ServerHandle) -> None:
    protocol: Any = "graphql-ws"
    async with websockets.connect(pinging.ws_url, subprotocols=[protocol]) as ws:
        assert ws.subprotocol == protocol
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await receive(ws))["type"] == "connection_ack"
        kinds = [(await receive(ws))["type"] for _ in range(3)]
        assert kinds == ["ka", "ka", "ka"]
