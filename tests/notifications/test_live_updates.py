"""Live updates end to end: a purchase over HTTP reaches the member's subscription."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import websockets

from loyalty.core.events import OfferChanged
from loyalty.core.outbox import emit
from loyalty.storage.database import Database
from tests.contract.operations import operation
from tests.loyalty.offers.programme import PROGRAMME as OFFERS_PROGRAMME
from tests.support.data import api_key, install, opened_id
from tests.support.flows import sign_up
from tests.support.live import listening
from tests.support.server import ServerHandle

PURCHASE = operation("pos/pos.graphql", "RecordPurchase")


def _purchase(base: str, key: str, barcode: str, external_id: str, euros: str = "10.00") -> None:
    response = httpx.post(
        f"{base}/graphql",
        json={
            "query": PURCHASE,
            "variables": {
                "input": {
                    "member": {"barcodeMessage": barcode},
                    "externalId": external_id,
                    "lines": [
                        {"sku": "KOF", "category": "koffie", "quantity": "1", "unitPrice": euros}
                    ],
                }
            },
        },
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.json()["data"]["recordPurchase"]["userErrors"] == []


async def _setup(database_url: str) -> str:
    """The demo programme and a till key (helpers that run their own event loop)."""
    await asyncio.to_thread(install, database_url)
    return await asyncio.to_thread(api_key, database_url, ["pos"], datetime.now(UTC))


def _member(server: ServerHandle, email: str) -> tuple[str, str]:
    client = server.client()
    token = sign_up(client, email)["session"]["accessToken"]
    me = client.data("{ me { card { barcodeMessage } } }", token=token)["me"]
    return token, me["card"]["barcodeMessage"]


async def test_purchase_reaches_only_that_members_subscription(
    server: ServerHandle, clean_database: str
) -> None:
    key = await _setup(clean_database)
    anna_token, anna_card = _member(server, "live-anna@example.com")
    bram_token, _ = _member(server, "live-bram@example.com")

    async with (
        listening(server.ws_url, anna_token) as anna,
        listening(server.ws_url, bram_token) as bram,
    ):
        # How fast is measured by bench/bench_fanout.py; here only that it arrives.
        await asyncio.to_thread(_purchase, server.url, key, anna_card, "live-1")
        event = (await asyncio.wait_for(anna.get(), timeout=10))["balanceChanged"]
        assert event["entry"]["kind"] == "EARN" and event["entry"]["points"] == 100
        assert event["balance"] == {"available": 0, "pending": 100, "lifetimeEarned": 100}
        await asyncio.sleep(0.5)
        assert bram.empty()


async def test_reconnecting_with_a_cursor_catches_up(
    server: ServerHandle, clean_database: str
) -> None:
    key = await _setup(clean_database)
    token, card = _member(server, "live-cursor@example.com")
    text = """subscription($after: String) {
      balanceChanged(after: $after) { cursor entry { id points } }
    }"""

    async with listening(server.ws_url, token, text=text) as first:
        await asyncio.to_thread(_purchase, server.url, key, card, "cur-1", "1.00")
        seen = (await asyncio.wait_for(first.get(), timeout=2))["balanceChanged"]
    # Offline: two more purchases happen.
    await asyncio.to_thread(_purchase, server.url, key, card, "cur-2", "2.00")
    await asyncio.to_thread(_purchase, server.url, key, card, "cur-3", "3.00")
    async with listening(
        server.ws_url, token, text=text, variables={"after": seen["cursor"]}
    ) as again:
        missed = [
            (await asyncio.wait_for(again.get(), timeout=2))["balanceChanged"] for _ in range(2)
        ]
        assert [m["entry"]["points"] for m in missed] == [20, 30]
        await asyncio.to_thread(_purchase, server.url, key, card, "cur-4", "4.00")
        live = (await asyncio.wait_for(again.get(), timeout=2))["balanceChanged"]
        assert live["entry"]["points"] == 40
        await asyncio.sleep(0.3)
        assert again.empty()  # nothing twice


async def test_a_socket_whose_session_ended_gets_no_more_subscriptions(
    server: ServerHandle,
) -> None:
    token, _ = _member(server, "live-out@example.com")
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await asyncio.to_thread(
            server.client().data,
            operation("member-app/auth.graphql", "SignOut"),
            {"input": {}},
            token=token,
        )
        await asyncio.sleep(1.1)  # past the moment of connecting, when credentials are fresh
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "1",
                    "payload": {"query": "subscription { balanceChanged { cursor } }"},
                }
            )
        )
        reply = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
        # An error raised as the subscription starts arrives as a result with errors.
        assert reply["type"] == "next"
        assert reply["payload"]["errors"][0]["extensions"]["code"] == "SESSION_REVOKED"


async def test_offer_changes_reach_the_member(server: ServerHandle, clean_database: str) -> None:
    """The offers capability publishes `offer.changed` through the outbox; the contract's
    OnOffersChanged receives it."""
    token, _ = _member(server, "live-offer@example.com")
    member_id = server.client().data("{ me { id } }", token=token)["me"]["id"]
    _, row_id = opened_id(member_id)
    offer = {
        "id": 7,
        "title": "Gratis croissant",
        "kind": "free_item",
        "state": "available",
        "valid_until": "2026-12-31T23:00:00+00:00",
    }

    async def emit_offer() -> None:
        db = Database(clean_database)
        try:
            async with db.unit_of_work() as uow:
                emit(
                    uow.session,
                    OfferChanged(member_id=row_id, change="granted", offer=offer),
                    datetime.now(UTC),
                )
                await uow.commit()
        finally:
            await db.dispose()

    async with listening(server.ws_url, token, "OnOffersChanged") as offers:
        await emit_offer()
        event = (await asyncio.wait_for(offers.get(), timeout=2))["offersChanged"]
        assert event["change"] == "GRANTED"
        assert event["offer"]["title"] == "Gratis croissant"
        assert event["offer"]["state"] == "AVAILABLE" and event["offer"]["kind"] == "FREE_ITEM"


async def test_idle_sockets_are_kept_alive(database_url: str) -> None:
    from loyalty.core.clock import SystemClock
    from tests.conftest import make_settings
    from tests.support.server import start_server

    server = await asyncio.to_thread(
        start_server, make_settings(database_url, ws_keepalive_seconds=0.2), SystemClock()
    )
    try:
        async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            pings = [json.loads(await asyncio.wait_for(ws.recv(), timeout=5)) for _ in range(2)]
            assert [p["type"] for p in pings] == ["ping", "ping"]
    finally:
        await asyncio.to_thread(server.stop)


async def test_activating_an_offer_reaches_the_members_offers_changed(
    server: ServerHandle, clean_database: str
) -> None:
    """`offer.activated` reaches the contract's OnOffersChanged with the offer as the member now
    sees it; another member hears nothing of it."""
    await asyncio.to_thread(install, clean_database, OFFERS_PROGRAMME)
    token, _ = _member(server, "live-activate@example.com")
    other, _ = _member(server, "live-other@example.com")
    app = server.client()
    app.token = token
    listed = app.data(operation("member-app/offers.graphql", "Offers"), {"first": 20})
    shared = next(
        e["node"]
        for e in listed["me"]["offers"]["edges"]
        if e["node"]["couponCode"] is None and e["node"]["title"] == "2 euro korting"
    )
    async with (
        listening(server.ws_url, token, "OnOffersChanged") as mine,
        listening(server.ws_url, other, "OnOffersChanged") as theirs,
    ):
        activate = operation("member-app/offers.graphql", "ActivateOffer")
        done = await asyncio.to_thread(app.data, activate, {"input": {"offerId": shared["id"]}})
        assert done["activateOffer"]["userErrors"] == []
        event = (await asyncio.wait_for(mine.get(), timeout=5))["offersChanged"]
        assert event["change"] == "UPDATED"
        assert event["offer"]["id"] == shared["id"]
        assert (
            event["offer"]["state"] == "ACTIVATED" and event["offer"]["title"] == "2 euro korting"
        )
        await asyncio.sleep(0.3)
        assert theirs.empty()
