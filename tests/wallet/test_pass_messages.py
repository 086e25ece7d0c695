"""A campaign's message on the `pass` channel shows on the member's pass: kept by the wallet's
reaction, the pass marked changed, one push to the Apple device, the fetched pass.json with the
message as a back field whose change message is "%@", and Google's object patched with it as a
text module. Members without push consent, over the day's cap or held out get nothing, and
their passes do not change. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from api.wiring import build_reactions
from loyalty.campaigns.holdouts import held_out
from loyalty.campaigns.models import CampaignEnrolment
from loyalty.campaigns.service import CampaignsService
from loyalty.core.clock import FixedClock
from loyalty.core.reactions import ReactionRunner
from loyalty.points.refs import MemberRef
from loyalty.storage.database import Database
from loyalty.wallet.messages import PassMessage, keep_message, latest_message
from loyalty.wallet.models import WalletPass, WalletPassMessage
from loyalty.wallet.service import WalletService
from tests.loyalty.campaigns.helpers import contact_log, install
from tests.loyalty.services import add_member
from tests.support.data import api_key
from tests.support.data import install as install_file
from tests.support.flows import sign_up
from tests.support.google_wallet_standin import GoogleWalletStandIn
from tests.support.push_standins import ApnsStandIn, apns_device_token, make_apns_key
from tests.support.server import ServerHandle
from tests.wallet.conftest import ISSUER, google_settings
from tests.wallet.helpers import unzip
from tests.wallet.test_updates import eventually, nothing_pending, start
from tests.wallet.test_webservice import PASS_TYPE, WALLET_PASS, local
from wallet.devcerts import DevCertFiles
from wallet.google.objects import loyalty_object
from wallet.views import PassViews

TITLE, BODY = "Dubbele punten", "Dit weekend krijg je dubbele punten op elke koffie."
PROGRAMME = f"""\
programme:
  key: kaart
  name: Koffiebar Kaart
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
campaigns:
  contact:
    per_day: 1
    per_week: 3
    quiet_hours: {{start: "00:00", end: "00:00"}}
  templates:
    - {{key: dubbel, title: {TITLE}, body: {BODY}}}
  definitions:
    - key: nieuws
      name: Nieuws op de pas
      holdout_share: HOLDOUT
      entry: {{event: delivery.late}}
      rules: {{once: false}}
      steps:
        - key: op-de-pas
          send: {{channel: pass, template: dubbel}}
"""
LATE = """mutation Late($input: ReportLateDeliveryInput!) {
  reportLateDelivery(input: $input) { accepted userErrors { code } }
}"""
PUSH = [{"channel": "PUSH", "granted": True}]


def programme(holdout: float) -> str:
    return PROGRAMME.replace("HOLDOUT", str(holdout))


# -- the whole way, against a running server ---------------------------------------------


def _start(
    url: str,
    certs: DevCertFiles,
    clock: FixedClock,
    apns: ApnsStandIn,
    google: GoogleWalletStandIn,
    tmp: Path,
) -> ServerHandle:
    """Apple pushes to the stand-in APNs, Google Wallet to its stand-in; the worker in serve."""
    return start(url, certs, clock, apns, **google_settings(google, tmp))


def _join(server: ServerHandle, name: str, consents: list[dict[str, Any]]) -> dict[str, str]:
    """A member signed up in the app, with their pass (Google's object made for its link)."""
    client = server.client()
    joined = sign_up(client, f"{name.lower()}@example.com", firstName=name, consents=consents)
    client.token = joined["session"]["accessToken"]
    found: dict[str, str] = client.data(WALLET_PASS)["me"]["walletPass"]
    assert found["googleWalletSaveUrl"]
    return found


async def _states(db: Database) -> dict[str, tuple[int, bool]]:
    """Each pass's update tag and whether a push is pending, by serial number."""
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.execute(
            select(WalletPass.serial_number, WalletPass.update_tag, WalletPass.pending_since)
        )
        return {serial: (tag, since is not None) for serial, tag, since in rows}


async def _journeys_done(db: Database, count: int) -> bool:
    async with db.unit_of_work(write=False) as uow:
        done = await uow.session.scalar(
            select(func.count()).where(CampaignEnrolment.state == "completed")
        )
    return done == count


def _message_field(document: dict[str, Any]) -> dict[str, Any]:
    field: dict[str, Any] = document["storeCard"]["backFields"][0]
    return field


async def test_a_pass_message_reaches_apple_and_google_through_the_pass_updates(
    private_database: str,
    certs: DevCertFiles,
    wallet_clock: FixedClock,
    google: GoogleWalletStandIn,
    tmp_path: Path,
) -> None:
    await asyncio.to_thread(install_file, private_database, programme(0))
    db = Database(private_database)
    async with ApnsStandIn(
        make_apns_key(), "nl.trouw.app", [PASS_TYPE], pass_certificate_cas=[certs.root, certs.wwdr]
    ) as apns:
        server = await asyncio.to_thread(
            _start, private_database, certs, wallet_clock, apns, google, tmp_path
        )
        try:
            await _play(server, apns, google, db, private_database, wallet_clock)
        finally:
            await asyncio.to_thread(server.stop)
            await db.dispose()


async def _register(
    http: httpx.AsyncClient, server: ServerHandle, found: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Wallet on a phone: the pass added and registered for updates; its pass.json and the
    web service's authorisation header."""
    added = await http.get(local(server, found["appleWalletUrl"]))
    document: dict[str, Any] = json.loads(unzip(added.content)["pass.json"])
    auth = {"Authorization": f"ApplePass {document['authenticationToken']}"}
    serial = found["serialNumber"]
    device = serial[:16]
    path = f"/wallet/v1/devices/{device}/registrations/{PASS_TYPE}/{serial}"
    push = {"pushToken": apns_device_token(serial)}
    assert (await http.post(server.url + path, json=push, headers=auth)).status_code == 201
    return document, auth


async def _play(
    server: ServerHandle,
    apns: ApnsStandIn,
    google: GoogleWalletStandIn,
    db: Database,
    url: str,
    clock: FixedClock,
) -> None:
    noor = await asyncio.to_thread(_join, server, "Noor", PUSH)
    sem = await asyncio.to_thread(_join, server, "Sem", [])  # no push consent
    async with httpx.AsyncClient() as http:
        before, auth = await _register(http, server, noor)
        sems, _ = await _register(http, server, sem)
        assert _message_field(before) == {
            "key": "message", "label": "News", "value": "No news yet.", "changeMessage": "%@",
        }  # fmt: skip
        unchanged = await _states(db)

        till = server.client(await asyncio.to_thread(api_key, url, ["pos"], clock.now()))
        for n, document in enumerate((before, sems)):
            member = {"barcodeMessage": document["barcodes"][0]["message"]}
            variables = {"input": {"member": member, "orderId": f"o-{n}", "daysLate": 2}}
            late = await asyncio.to_thread(till.data, LATE, variables)
            assert late["reportLateDelivery"] == {"accepted": True, "userErrors": []}
        await eventually(lambda: _journeys_done(db, 2), "both journeys ran")
        await eventually(lambda: _pending(db, noor["serialNumber"]), "the wallet reacted")
        states = await _states(db)
        assert states[sem["serialNumber"]] == unchanged[sem["serialNumber"]]  # nothing for Sem
        assert apns.requests == []  # merged with any other change for a minute

        clock.advance(timedelta(seconds=61))
        await eventually(lambda: nothing_pending(db), "the pass update was pushed")
        assert [(r.token, r.payload) for r in apns.requests] == [
            (apns_device_token(noor["serialNumber"]), {})
        ]
        latest = f"{server.url}/wallet/v1/passes/{PASS_TYPE}/{noor['serialNumber']}"
        fetched = await http.get(latest, headers=auth)
        assert fetched.status_code == 200
        after = json.loads(unzip(fetched.content)["pass.json"])
        assert _message_field(after) == {
            "key": "message", "label": TITLE, "value": BODY, "changeMessage": "%@",
        }  # fmt: skip

    object_id = f"{ISSUER}.{noor['serialNumber']}"
    await eventually(lambda: _google_shows(google, object_id), "Google's object was patched")
    patched = [r for r in google.requests if r.method == "PATCH" and r.resource_id == object_id]
    assert {"id": "message", "header": TITLE, "body": BODY} in patched[-1].body["textModulesData"]
    sem_object = google.resources[("loyaltyObject", f"{ISSUER}.{sem['serialNumber']}")]
    assert all(m["id"] != "message" for m in sem_object["textModulesData"])


async def _pending(db: Database, serial: str) -> bool:
    return (await _states(db))[serial][1]


async def _google_shows(google: GoogleWalletStandIn, object_id: str) -> bool:
    made = google.resources.get(("loyaltyObject", object_id), {})
    return any(m.get("id") == "message" for m in made.get("textModulesData", []))


# -- who gets nothing, in the domain ---------------------------------------------------------


async def _member(db: Database, clock: FixedClock, name: str, *, push: bool, held: bool) -> int:
    """A member on the wanted side of the campaign's holdout (half)."""
    n = 0
    while True:
        found = await add_member(db, clock, f"{name}{n}@example.com", consents={"push": push})
        if held_out("nieuws", found.id, 0.5) == held:
            return found.id
        n += 1


async def _run(runner: ReactionRunner) -> None:
    while await runner.run_once():
        pass


async def test_only_members_the_budget_lets_through_get_the_message_on_their_pass(
    db: Database, clock: FixedClock
) -> None:
    await install(db, clock, programme(0.5))
    runner = ReactionRunner(db, build_reactions(), clock)
    campaigns, passes = CampaignsService(db, clock), WalletService(db, clock)
    anna = await _member(db, clock, "anna", push=True, held=False)
    bert = await _member(db, clock, "bert", push=False, held=False)
    cas = await _member(db, clock, "cas", push=True, held=True)
    members = (anna, bert, cas)
    made = {m: await passes.pass_of(m) for m in members}
    for m in members:
        await campaigns.report_late_delivery(MemberRef(member_id=m), f"o-{m}", 2)
    await _run(runner)

    now = {m: await passes.pass_of(m) for m in members}
    assert now[anna].update_tag > made[anna].update_tag
    assert [now[m] for m in (bert, cas)] == [made[m] for m in (bert, cas)]
    log = {(c.member_id, c.channel, c.sent, c.reason) for c in await contact_log(db)}
    assert {(anna, "pass", True, None), (bert, "pass", False, "no_consent")} <= log
    assert all(c[0] != cas for c in log)  # held out: the step did nothing, not even a line
    views = PassViews(db, clock)
    shown = await views.view(now[anna])
    assert shown is not None and shown.message is not None
    assert (shown.message.title, shown.message.body) == (TITLE, BODY)
    texts = loyalty_object(ISSUER, shown)["textModulesData"]
    assert {"id": "message", "header": TITLE, "body": BODY} in texts
    for m in (bert, cas):
        other = await views.view(now[m])
        assert other is not None and other.message is None

    # A second message the same day is over Anna's cap: her pass stays as it was.
    await campaigns.report_late_delivery(MemberRef(member_id=anna), "o-again", 2)
    await _run(runner)
    assert await passes.pass_of(anna) == now[anna]
    assert (anna, "pass", False, "daily_cap") in {
        (c.member_id, c.channel, c.sent, c.reason) for c in await contact_log(db)
    }
    async with db.unit_of_work(write=False) as uow:
        kept = list(await uow.session.scalars(select(WalletPassMessage)))
    assert [(k.member_id, k.title) for k in kept] == [(anna, TITLE)]


async def test_a_message_is_replaced_by_a_newer_one_only(db: Database, clock: FixedClock) -> None:
    """Reactions may run late or in several processes: an older event never wins."""
    member = (await add_member(db, clock, "order@example.com")).id
    for event_id, title in ((10, "tien"), (12, "twaalf"), (11, "elf")):
        async with db.unit_of_work() as uow:
            await keep_message(uow.session, member, event_id, PassMessage(title, "-", clock.now()))
            await uow.commit()
    async with db.unit_of_work(write=False) as uow:
        kept = await latest_message(uow.session, member)
        kept_id = await uow.session.scalar(select(WalletPassMessage.event_id))
    assert kept is not None and (kept.title, kept_id) == ("twaalf", 12)
