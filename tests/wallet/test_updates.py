"""Apple Wallet played against a running server: register, list, fetch, 304, a burst of
purchases at the till, one push at the stand-in APNs (HTTP/2 on 127.0.0.1), list again, fetch
the new pass with the final balance, unregister. And a 410 from APNs removes the device (and
records that the pass left it)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, exists, func, or_, select

from api.wiring import build_reactions
from loyalty.core.clock import FixedClock
from loyalty.core.models import OutboxEvent, ReactionReceipt
from loyalty.demo.data import DEMO_PROGRAMME
from loyalty.storage.database import Database
from loyalty.wallet.models import WalletPass, WalletRegistration
from tests.contract.operations import operation
from tests.support.data import api_key, install
from tests.support.push_standins import (
    UNREGISTERED,
    ApnsStandIn,
    apns_device_token,
    make_apns_key,
)
from tests.support.server import ServerHandle, start_server
from tests.wallet.conftest import wallet_settings
from tests.wallet.helpers import unzip
from tests.wallet.test_webservice import DEVICE, PASS_TYPE, local, member_pass
from wallet.devcerts import DevCertFiles

RECORD_PURCHASE = operation("pos/pos.graphql", "RecordPurchase")
PUSH_TOKEN = apns_device_token("noor-iphone")


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for the server's background work (not a timing assertion: it only bounds a hang)."""
    for _ in range(400):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def reactions_done(db: Database) -> bool:
    """Every event has been through every after-commit reaction that takes it (the wallet's,
    and those whose effects change the pass in turn, such as a segment's offer)."""
    waiting = or_(
        *(
            and_(
                OutboxEvent.topic.in_(reaction.topics),
                ~exists().where(
                    ReactionReceipt.reaction == reaction.name,
                    ReactionReceipt.event_id == OutboxEvent.id,
                ),
            )
            for reaction in build_reactions().after_commit
        )
    )
    async with db.unit_of_work(write=False) as uow:
        count = await uow.session.scalar(select(func.count()).where(waiting))
    return count == 0


async def nothing_pending(db: Database) -> bool:
    async with db.unit_of_work(write=False) as uow:
        pending = await uow.session.scalar(
            select(func.count()).where(WalletPass.pending_since.is_not(None))
        )
    return pending == 0


def start(
    database_url: str,
    certs: DevCertFiles,
    clock: FixedClock,
    apns: ApnsStandIn,
    **more: object,
) -> ServerHandle:
    """A server whose pass pushes go to the stand-in, over TLS with the pass certificate (and
    `more` settings)."""
    settings = wallet_settings(
        database_url,
        certs,
        worker_in_serve=True,
        worker_interval_seconds=0.05,
        apns_base_url=apns.url,
        apns_ca_file=apns.ca_file,
        wallet_push_delay_seconds=60,
        **more,
    )
    return start_server(settings, clock)


def purchase(till: Any, barcode: str, number: int) -> None:
    line = {"sku": "KOF-CAP", "category": "koffie", "quantity": "1", "unitPrice": "3.40"}
    member = {"barcodeMessage": barcode}
    variables = {"input": {"member": member, "externalId": f"t1-{number}", "lines": [line]}}
    result = till.data(RECORD_PURCHASE, variables)["recordPurchase"]
    assert result["userErrors"] == []


async def test_apple_wallet_gets_one_push_for_a_burst_and_the_final_balance(
    private_database: str, certs: DevCertFiles, wallet_clock: FixedClock
) -> None:
    # Points are spendable at once, so the balance on the pass moves with each purchase.
    # No campaigns: the welcome series' points, given at its own pace, would move the pass.
    demo = DEMO_PROGRAMME.read_text().replace("pending_days: 14", "pending_days: 0")
    programme = demo[: demo.index("\ncampaigns:")] + "\n"
    await asyncio.to_thread(install, private_database, programme)
    key = make_apns_key()
    db = Database(private_database)
    async with ApnsStandIn(
        key, "nl.trouw.app", [PASS_TYPE], pass_certificate_cas=[certs.root, certs.wwdr]
    ) as apns:
        server = await asyncio.to_thread(start, private_database, certs, wallet_clock, apns)
        try:
            await _play_wallet(server, apns, db, private_database, wallet_clock)
        finally:
            await asyncio.to_thread(server.stop)
            await db.dispose()


async def _play_wallet(
    server: ServerHandle, apns: ApnsStandIn, db: Database, url: str, clock: FixedClock
) -> None:
    token, found = await asyncio.to_thread(member_pass, server, "burst@example.com")
    serial = found["serialNumber"]
    # The sign-up's own reactions (the demo's welcome points) change the pass too: let them
    # settle first, or the 304 below races them on a slow machine.
    await eventually(lambda: reactions_done(db), "the wallet reacted to the sign-up")
    async with httpx.AsyncClient() as http:
        first = await http.get(local(server, found["appleWalletUrl"]))
        document = json.loads(unzip(first.content)["pass.json"])
        auth = {"Authorization": f"ApplePass {document['authenticationToken']}"}
        barcode = document["barcodes"][0]["message"]
        base = f"{server.url}/wallet/v1"
        registration = f"{base}/devices/{DEVICE}/registrations/{PASS_TYPE}/{serial}"
        serials = f"{base}/devices/{DEVICE}/registrations/{PASS_TYPE}"
        latest = f"{base}/passes/{PASS_TYPE}/{serial}"

        body = {"pushToken": PUSH_TOKEN}
        assert (await http.post(registration, json=body, headers=auth)).status_code == 201
        listed = await http.get(serials)
        assert listed.status_code == 200 and listed.json()["serialNumbers"] == [serial]
        tag = listed.json()["lastUpdated"]
        fetched = await http.get(latest, headers=auth)
        assert fetched.status_code == 200
        modified = fetched.headers["last-modified"]
        unchanged = await http.get(latest, headers={**auth, "If-Modified-Since": modified})
        assert unchanged.status_code == 304

        till = server.client(await asyncio.to_thread(api_key, url, ["pos"], datetime.now(UTC)))
        for number in range(3):  # a burst at the till
            await asyncio.to_thread(purchase, till, barcode, number)
        await eventually(lambda: reactions_done(db), "the wallet reacted to every event")
        assert apns.requests == []  # merged: nothing until the burst has settled

        clock.advance(timedelta(seconds=61))
        await eventually(lambda: nothing_pending(db), "the pass update was pushed")
        assert [(r.token, r.headers["apns-topic"], r.payload) for r in apns.requests] == [
            (PUSH_TOKEN, PASS_TYPE, {})
        ]

        changed = await http.get(serials, params={"passesUpdatedSince": tag})
        assert changed.status_code == 200 and changed.json()["serialNumbers"] == [serial]
        assert int(changed.json()["lastUpdated"]) > int(tag)
        new = await http.get(latest, headers={**auth, "If-Modified-Since": modified})
        assert new.status_code == 200
        balance = json.loads(unzip(new.content)["pass.json"])["storeCard"]["headerFields"][0]
        query = "{ me { balance { available } } }"
        me = await asyncio.to_thread(server.client(token).data, query)
        assert balance["value"] == me["me"]["balance"]["available"] > 0

        assert (await http.delete(registration, headers=auth)).status_code == 200
        assert (await http.get(serials)).status_code == 204


async def test_a_410_from_apns_removes_the_registration(
    private_database: str, certs: DevCertFiles, wallet_clock: FixedClock
) -> None:
    await asyncio.to_thread(install, private_database)
    key = make_apns_key()
    db = Database(private_database)
    gone = apns_device_token("old-iphone")
    async with ApnsStandIn(
        key, "nl.trouw.app", [PASS_TYPE], pass_certificate_cas=[certs.root, certs.wwdr]
    ) as apns:
        apns.respond(gone, UNREGISTERED)
        server = await asyncio.to_thread(start, private_database, certs, wallet_clock, apns)
        try:
            token, found = await asyncio.to_thread(member_pass, server, "gone@example.com")
            async with httpx.AsyncClient() as http:
                first = await http.get(local(server, found["appleWalletUrl"]))
                document = json.loads(unzip(first.content)["pass.json"])
                auth = {"Authorization": f"ApplePass {document['authenticationToken']}"}
                serial = found["serialNumber"]
                for device, push in (("old", gone), ("new", PUSH_TOKEN)):
                    path = f"/wallet/v1/devices/{device * 8}/registrations/{PASS_TYPE}/{serial}"
                    response = await http.post(
                        server.url + path, json={"pushToken": push}, headers=auth
                    )
                    assert response.status_code == 201
            profile = (
                'mutation { updateProfile(input: {lastName: "Visser"}) { userErrors { code } } }'
            )
            await asyncio.to_thread(server.client(token).data, profile)
            await eventually(lambda: reactions_done(db), "the wallet reacted")
            wallet_clock.advance(timedelta(seconds=61))
            await eventually(lambda: nothing_pending(db), "the pass update was pushed")
            async with db.unit_of_work(write=False) as uow:
                left = list(await uow.session.scalars(select(WalletRegistration.push_token)))
            assert left == [PUSH_TOKEN]
            assert sorted(r.status for r in apns.requests) == [200, 410]
            async with db.unit_of_work(write=False) as uow:
                removed = list(
                    await uow.session.scalars(
                        select(OutboxEvent.payload).where(
                            OutboxEvent.topic == "wallet.pass_removed"
                        )
                    )
                )
            assert removed == [
                {"wallet": "apple", "serial_number": serial, "reason": "device_gone"}
            ]
        finally:
            await asyncio.to_thread(server.stop)
            await db.dispose()
