"""Campaigns through the API over HTTP: a till reports a late delivery, the worker's
reactions run Excuse+ for the treated member and not for the held-out one, and the back
office reads the campaigns, the members' journeys, a dry run and the report (and CSV-able
numbers); refusals carry codes."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx

from api.wiring import build_reactions, wire_database
from loyalty.campaigns.holdouts import held_out
from loyalty.core.clock import FixedClock
from loyalty.core.reactions import ReactionRunner
from loyalty.storage.database import Database
from tests.contract.operations import operation
from tests.loyalty.campaigns.helpers import programme
from tests.support.data import api_key, install, opened_id, sealed_id
from tests.support.flows import sign_up
from tests.support.server import ServerHandle

CAMPAIGNS = operation("admin/campaigns.graphql", "Campaigns")
DRY_RUN = operation("admin/campaigns.graphql", "CampaignDryRun")
REPORT = operation("admin/campaigns.graphql", "CampaignReport")
JOURNEYS = operation("admin/campaigns.graphql", "MemberJourneys")
LATE = """mutation($input: ReportLateDeliveryInput!) {
  reportLateDelivery(input: $input) { accepted userErrors { field code } } }"""
CREATE = """mutation($input: CreateCampaignInput!) {
  createCampaign(input: $input) { campaign { id key state } userErrors { field code } } }"""
ME = "{ me { id memberNumber } }"


async def _run_reactions(database_url: str) -> None:
    db = Database(database_url)
    reactions = build_reactions()
    wire_database(db, reactions)
    try:
        runner = ReactionRunner(db, reactions, FixedClock(datetime.now(UTC)))
        while await runner.run_once():
            pass
    finally:
        await db.dispose()


def _check_csv(server: ServerHandle, database_url: str, campaign_id: str, admin: str) -> None:
    """The report as CSV over HTTP: for admin keys only; an unknown campaign is 404."""
    url = f"{server.url}/admin/campaigns/{campaign_id}/report.csv"
    till = api_key(database_url, ["pos"], datetime.now(UTC), "till-csv")
    with httpx.Client(timeout=30) as http:
        got = http.get(url, headers={"Authorization": f"Bearer {admin}"})
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("text/csv")
        assert got.headers["content-disposition"] == 'attachment; filename="excuse-report.csv"'
        rows = list(csv.DictReader(io.StringIO(got.text)))
        assert [(r["kind"], r["name"]) for r in rows][:4] == [
            ("outcome", "conversion"),
            ("outcome", "revenue_per_member"),
            ("outcome", "offer_redemption"),
            ("outcome", "retention"),
        ]
        liability = next(r for r in rows if r["name"] == "points_liability_added")
        assert (liability["treated"], liability["held_out"]) == ("100.0", "0.0")
        split = rows[-1]
        assert (split["kind"], split["treated"], split["held_out"]) == ("split", "1", "1")
        assert http.get(url).status_code == 401
        assert http.get(url, headers={"Authorization": f"Bearer {till}"}).status_code == 403
        unknown = url.replace(campaign_id, "not-an-id")
        assert http.get(unknown, headers={"Authorization": f"Bearer {admin}"}).status_code == 404
        unknown = f"{server.url}/admin/campaigns/{sealed_id('Campaign:999999')}/report.csv"
        assert http.get(unknown, headers={"Authorization": f"Bearer {admin}"}).status_code == 404


def _member(server: ServerHandle, n: int) -> dict[str, Any]:
    app = server.client()
    app.token = sign_up(app, f"late{n}@example.com")["session"]["accessToken"]
    return dict(app.data(ME)["me"])


def _pick(server: ServerHandle, treated: bool) -> dict[str, Any]:
    for n in range(100):
        me = _member(server, n + (0 if treated else 100))

        _, member_id = opened_id(me["id"])
        if held_out("excuse", member_id, 0.5) != treated:
            return me
    raise AssertionError("no member on that side")


def test_a_late_delivery_gets_excuse_plus_end_to_end(
    server: ServerHandle, clean_database: str
) -> None:
    install(
        clean_database, programme(0.5).replace('"00:00", end: "00:00"', '"00:00", end: "00:00"')
    )
    now = datetime.now(UTC)
    till = server.client(api_key(clean_database, ["pos"], now))
    office = server.client(api_key(clean_database, ["admin"], now, "kantoor"))
    anna, bert = _pick(server, True), _pick(server, False)
    for who in (anna, bert):
        sent = till.data(
            LATE,
            {
                "input": {
                    "member": {"memberNumber": who["memberNumber"]},
                    "orderId": "o1",
                    "daysLate": 2,
                }
            },
        )["reportLateDelivery"]
        assert sent == {"accepted": True, "userErrors": []}
    asyncio.run(_run_reactions(clean_database))

    def steps_of(who: dict[str, Any]) -> tuple[bool, list[tuple[str, str]]]:
        found = office.data(JOURNEYS, {"memberId": who["id"]})["node"]["campaignEnrolments"]
        assert [e["campaign"]["key"] for e in found] == ["excuse"]
        return found[0]["heldOut"], [(s["name"], s["state"]) for s in found[0]["steps"]]

    assert steps_of(anna) == (
        False,
        [("grant", "done"), ("points", "done"), ("tell", "skipped"), ("wait", "waiting")],
    )  # signed up without the in-app consent: the message is logged as not sent
    assert steps_of(bert)[0] is True
    assert all(state in ("held_out", "waiting") for _, state in steps_of(bert)[1])

    listed = office.data(CAMPAIGNS, {"first": 10})["campaigns"]["edges"]
    assert [(e["node"]["key"], e["node"]["holdoutShare"]) for e in listed] == [("excuse", 0.5)]
    campaign_id = listed[0]["node"]["id"]
    report = office.data(REPORT, {"campaignId": campaign_id})["node"]["report"]
    assert (report["treated"], report["heldOut"]) == (1, 1)
    names = [o["name"] for o in report["outcomes"]]
    assert names == ["conversion", "revenue_per_member", "offer_redemption", "retention"]
    liability = {g["name"]: g for g in report["guardrails"]}["points_liability_added"]
    assert (liability["treatedValue"], liability["heldOutValue"]) == (100, 0)
    _check_csv(server, clean_database, campaign_id, office.token)
    dry = office.data(DRY_RUN, {"campaignId": campaign_id})["campaignDryRun"]
    assert dry["wouldEnter"] == 0  # both are in the journey already
    assert {b["reason"]: b["count"] for b in dry["blocked"]}["in_journey"] == 2

    # Refusals: a till may not read campaigns; a bad definition names its field.
    assert till.error_codes("query { campaigns(first: 1) { edges { node { id } } } }")
    bad = {
        "key": "x1",
        "name": "X",
        "entry": {"event": "nothing.happened"},
        "steps": [{"key": "a", "exit": True}],
    }
    made = office.data(CREATE, {"input": {"definition": bad}})["createCampaign"]
    assert [e["code"] for e in made["userErrors"]] == ["INVALID_CAMPAIGN"]
    late = till.data(
        LATE,
        {
            "input": {
                "member": {"memberNumber": anna["memberNumber"]},
                "orderId": " ",
                "daysLate": 2,
            }
        },
    )["reportLateDelivery"]
    assert late["userErrors"] == [{"field": ["input", "orderId"], "code": "INVALID_ORDER_ID"}]
