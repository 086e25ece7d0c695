"""The admin contract's `Segments`, `SegmentMembers` and `MemberInsight` over HTTP exactly as
written; making segments through the API; who may see what; and a segment entry that grants
an offer reaching the member's `offersChanged` over a real websocket."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from api.wiring import build_reactions, wire_database
from loyalty.core.clock import FixedClock
from loyalty.core.reactions import ReactionRunner
from loyalty.segments.service import SegmentsService
from loyalty.storage.database import Database
from tests.contract.operations import operation
from tests.loyalty.segments.programme import PROGRAMME, buy, days
from tests.loyalty.services import add_member
from tests.support.data import api_key, install
from tests.support.flows import sign_up
from tests.support.live import listening
from tests.support.server import GraphQLClient, ServerHandle

ADMIN = "admin/offers-segments.graphql"
SEGMENTS = operation(ADMIN, "Segments")
SEGMENT_MEMBERS = operation(ADMIN, "SegmentMembers")
INSIGHT = operation(ADMIN, "MemberInsight")
CREATE = """
mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) {
    segment { id key name memberCount source }
    userErrors { field message code }
  }
}"""
UPDATE = """
mutation($input: UpdateSegmentInput!) {
  updateSegment(input: $input) {
    segment { id key name memberCount }
    userErrors { field message code }
  }
}"""
MEMBERS = "query { members(first: 50) { edges { node { id memberNumber } } } }"


def _seed(database_url: str, counts: list[int]) -> None:
    """Members who joined 400 days ago and bought `count` times, every ten days until
    yesterday; then a rebuild, as the nightly job would."""

    async def go() -> None:
        db = Database(database_url)
        wire_database(db)
        now = datetime.now(UTC).replace(microsecond=0)
        clock = FixedClock(now - days(400))
        try:
            for n, count in enumerate(counts):
                member = await add_member(db, clock, f"seed{n}@example.com")
                for i in range(count):
                    await buy(db, clock, member.id, now - days(10 * i + 1))
            clock.set(now)
            await SegmentsService(db, clock).rebuild()
        finally:
            await db.dispose()

    asyncio.run(go())


def _office(server: ServerHandle, database_url: str, scopes: list[str]) -> GraphQLClient:
    return server.client(api_key(database_url, scopes, datetime.now(UTC), f"key {scopes}"))


def _all_segments(office: GraphQLClient) -> list[dict[str, Any]]:
    found, after = [], None
    while True:
        page = office.data(SEGMENTS, {"first": 2, "after": after})["segments"]
        found += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def test_the_admin_reads_segments_their_members_and_a_members_insight(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    _seed(clean_database, [1, 2, 3, 4, 5, 6, 7, 8, 9, 12])
    office = _office(server, clean_database, ["admin"])

    segments = {s["key"]: s for s in _all_segments(office)}
    assert list(segments) == [
        "vaste-klanten",
        "dreigen-te-gaan",
        "koffie-in-amsterdam",
        "reviewers",
        "push-of-goud",
    ]
    assert segments["vaste-klanten"]["memberCount"] == 2

    members = office.data(MEMBERS)["members"]["edges"]
    top = office.data(SEGMENT_MEMBERS, {"segmentId": segments["vaste-klanten"]["id"], "first": 1})[
        "node"
    ]
    assert top["key"] == "vaste-klanten" and top["memberCount"] == 2
    assert top["members"]["pageInfo"]["hasNextPage"]
    rest = office.data(
        SEGMENT_MEMBERS,
        {
            "segmentId": segments["vaste-klanten"]["id"],
            "first": 5,
            "after": top["members"]["pageInfo"]["endCursor"],
        },
    )["node"]["members"]
    listed = [e["node"] for e in top["members"]["edges"] + rest["edges"]]
    assert listed == [m["node"] for m in members[-2:]]
    assert not rest["pageInfo"]["hasNextPage"]

    insight = office.data(INSIGHT, {"memberId": members[-1]["node"]["id"]})["node"]
    assert insight["lifecycleStage"] == "ACTIVE"
    assert 0 <= insight["churnRisk"]["score"] <= 1
    names = [p["name"] for p in insight["churnRisk"]["parts"]]
    assert names == ["overdue", "slowing_down", "spending_less"]
    assert (
        abs(sum(p["value"] for p in insight["churnRisk"]["parts"]) - insight["churnRisk"]["score"])
        < 0.001
    )
    [membership] = insight["segments"]
    assert membership["segment"]["key"] == "vaste-klanten"
    assert membership["reasons"] == ["frequency quintile 5 (12 purchases in 365 days)"]
    assert membership["since"]


def test_segments_made_through_the_api_and_bad_input(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    _seed(clean_database, [1, 3, 12])
    office = _office(server, clean_database, ["admin"])
    made = office.data(
        CREATE,
        {
            "input": {
                "key": "trouwe-kopers",
                "name": "Trouwe kopers",
                "rules": {"did": {"event": "purchase", "at_least": 3, "within_days": 60}},
            }
        },
    )["createSegment"]
    assert made["userErrors"] == []
    assert made["segment"]["memberCount"] == 2 and made["segment"]["source"] == "admin"

    changed = office.data(
        UPDATE,
        {
            "input": {
                "segmentId": made["segment"]["id"],
                "rules": {"did": {"event": "purchase", "at_least": 6, "within_days": 60}},
            }
        },
    )["updateSegment"]
    assert changed["userErrors"] == [] and changed["segment"]["memberCount"] == 1

    def codes(query: str, data: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
        payload = next(iter(office.data(query, {"input": data}).values()))
        assert payload["segment"] is None
        return [(e["code"], e["field"]) for e in payload["userErrors"]]

    again = {"key": "trouwe-kopers", "name": "Nog eens", "rules": {"consent": "push"}}
    assert codes(CREATE, again) == [("SEGMENT_KEY_TAKEN", ["input", "key"])]
    bad = {"key": "slecht", "name": "Slecht", "rules": {"rfm": {"frequency": [9]}}}
    assert codes(CREATE, bad) == [("INVALID_SEGMENT", ["input", "rules"])]
    not_a_rule = {"key": "slecht", "name": "Slecht", "rules": [1, 2]}
    assert [c for c, _ in codes(CREATE, not_a_rule)] == ["INVALID_SEGMENT"]
    programme_id = _all_segments(office)[0]["id"]
    assert codes(UPDATE, {"segmentId": programme_id, "name": "Anders"}) == [
        ("SEGMENT_FROM_PROGRAMME", ["input", "segmentId"])
    ]
    assert [s["key"] for s in _all_segments(office)][-1] == "trouwe-kopers"


def test_only_the_admin_sees_segments_and_insights(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    _seed(clean_database, [12])
    office = _office(server, clean_database, ["admin"])
    till = _office(server, clean_database, ["pos"])
    member_id = office.data(MEMBERS)["members"]["edges"][0]["node"]["id"]
    segment_id = _all_segments(office)[0]["id"]

    assert till.error_codes(SEGMENTS, {"first": 5}) == ["FORBIDDEN"]
    # A till cannot reach a member by id at all (only by a card scan or member number).
    assert set(till.error_codes(INSIGHT, {"memberId": member_id})) <= {"FORBIDDEN"}
    till_view = till.post(INSIGHT, {"memberId": member_id})["data"]
    assert till_view is None or till_view["node"] is None
    assert till.error_codes(SEGMENT_MEMBERS, {"segmentId": segment_id, "first": 5}) == ["FORBIDDEN"]

    app = server.client()
    app.token = sign_up(app, "nieuwsgierig@example.com")["session"]["accessToken"]
    assert set(app.error_codes("{ me { segments { reasons } churnRisk { score } } }")) == {
        "FORBIDDEN"
    }
    # Another member's node is not theirs to see at all, segments or not.
    other = app.post(INSIGHT, {"memberId": member_id})
    assert other["data"] is None or other["data"]["node"] is None
    assert app.error_codes(SEGMENTS, {"first": 5}) == ["FORBIDDEN"]
    assert app.error_codes(CREATE, {"input": {"key": "x1", "name": "X", "rules": {}}}) == [
        "FORBIDDEN"
    ]


LIVE_PROGRAMME = PROGRAMME.replace(
    "segments:\n",
    "segments:\n"
    "  - key: toestemming\n"
    "    name: Met toestemming\n"
    "    rules: {consent: personalisation}\n",
    1,
).replace(
    "offers:\n",
    "offers:\n"
    "  - key: op-maat\n"
    "    title: Koffie op maat\n"
    "    kind: free_item\n"
    "    item: koffie\n"
    "    eligibility: {segments: [toestemming]}\n",
    1,
)
SET_CONSENT = operation("member-app/profile.graphql", "SetConsent")


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


async def test_entering_a_segment_grants_the_offer_live(
    server: ServerHandle, clean_database: str
) -> None:
    """The member consents; segments put them in `toestemming`; offers grant `op-maat`; the
    member's `offersChanged` hears it and another member hears nothing."""
    await asyncio.to_thread(install, clean_database, LIVE_PROGRAMME)
    app = server.client()
    token = (await asyncio.to_thread(sign_up, app, "live-seg@example.com"))["session"][
        "accessToken"
    ]
    other = (await asyncio.to_thread(sign_up, app, "live-seg2@example.com"))["session"][
        "accessToken"
    ]
    app.token = token
    consent = {"input": {"channel": "PERSONALISATION", "granted": True}}
    async with (
        listening(server.ws_url, token, "OnOffersChanged") as mine,
        listening(server.ws_url, other, "OnOffersChanged") as theirs,
    ):
        done = await asyncio.to_thread(app.data, SET_CONSENT, consent)
        assert done["setConsent"]["userErrors"] == []
        await _run_reactions(clean_database)  # the worker's after-commit reactions
        event = (await asyncio.wait_for(mine.get(), timeout=10))["offersChanged"]
        assert event["change"] == "GRANTED"
        assert event["offer"]["title"] == "Koffie op maat"
        assert event["offer"]["state"] == "AVAILABLE"
        await asyncio.sleep(0.3)
        assert theirs.empty()
