"""The back office's offer operations (`CreateOffer`, `UpdateOffer`, `PauseOffer`,
`MemberOffers`) over HTTP, exactly as the contract writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.contract.operations import operation
from tests.loyalty.offers.programme import PROGRAMME
from tests.support.data import api_key, install
from tests.support.flows import sign_up
from tests.support.server import GraphQLClient, ServerHandle

FILE = "admin/offers-segments.graphql"
CREATE = operation(FILE, "CreateOffer")
UPDATE = operation(FILE, "UpdateOffer")
PAUSE = operation(FILE, "PauseOffer")
MEMBER_OFFERS = operation(FILE, "MemberOffers")
OFFERS = operation("member-app/offers.graphql", "Offers")
ME = "{ me { id } }"
ARCHIVE = """
mutation($input: PauseOfferInput!) {
  archiveOffer(input: $input) { offer { state version } userErrors { code field } }
}"""
RESUME = """
mutation($input: PauseOfferInput!) {
  resumeOffer(input: $input) { offer { state version } userErrors { code field } }
}"""
AUTUMN = {
    "key": "herfst",
    "title": "Herfstbonus",
    "kind": "BONUS_POINTS",
    "points": 25,
    "state": "LIVE",
    "globalLimit": 100,
    "pointsBudget": 2500,
    "validUntil": "2031-01-01T00:00:00+00:00",
}


def _codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


def _titles(app: GraphQLClient) -> set[str]:
    edges = app.data(OFFERS, {"first": 50})["me"]["offers"]["edges"]
    return {e["node"]["title"] for e in edges}


def _office(server: ServerHandle, database_url: str) -> GraphQLClient:
    return server.client(api_key(database_url, ["admin"], datetime.now(UTC), "back office"))


def test_an_offer_made_changed_and_paused_by_the_back_office(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    office = _office(server, clean_database)
    app = server.client()
    app.token = sign_up(app, "admin-offers@example.com")["session"]["accessToken"]

    made = office.data(CREATE, {"input": AUTUMN})["createOffer"]
    assert made["userErrors"] == []
    offer = made["offer"]
    assert (offer["key"], offer["state"], offer["version"], offer["kind"]) == (
        "herfst",
        "LIVE",
        1,
        "BONUS_POINTS",
    )
    assert (offer["globalLimit"], offer["redeemedCount"]) == (100, 0)
    assert (offer["pointsBudget"], offer["pointsBudgetSpent"]) == (2500, 0)
    assert "Herfstbonus" in _titles(app)

    changed = office.data(
        UPDATE, {"input": {"offerId": offer["id"], "title": "Herfst!", "expectedVersion": 1}}
    )["updateOffer"]
    assert changed["userErrors"] == []
    assert (changed["offer"]["title"], changed["offer"]["version"]) == ("Herfst!", 2)
    assert changed["offer"]["key"] == "herfst" and changed["offer"]["globalLimit"] == 100
    stale = office.data(
        UPDATE, {"input": {"offerId": offer["id"], "title": "Oud", "expectedVersion": 1}}
    )["updateOffer"]
    assert _codes(stale) == [("VERSION_CONFLICT", ["input", "expectedVersion"])]

    paused = office.data(PAUSE, {"input": {"offerId": offer["id"]}})["pauseOffer"]
    assert paused["userErrors"] == []
    assert (paused["offer"]["state"], paused["offer"]["version"]) == ("PAUSED", 3)
    assert "Herfst!" not in _titles(app)
    again = office.data(PAUSE, {"input": {"offerId": offer["id"]}})["pauseOffer"]
    assert again["offer"]["version"] == 3  # the same state again is no new version

    resumed = office.data(RESUME, {"input": {"offerId": offer["id"]}})["resumeOffer"]
    assert resumed["offer"] == {"state": "LIVE", "version": 4}
    assert "Herfst!" in _titles(app)
    archived = office.data(ARCHIVE, {"input": {"offerId": offer["id"]}})["archiveOffer"]
    assert archived["offer"] == {"state": "ARCHIVED", "version": 5}
    after = office.data(UPDATE, {"input": {"offerId": offer["id"], "title": "Nog eens"}})
    assert _codes(after["updateOffer"]) == [("OFFER_ARCHIVED", ["input", "offerId"])]
    assert "Herfst!" not in _titles(app)


def test_bad_offers_are_refused_and_change_nothing(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    office = _office(server, clean_database)
    no_points = {**AUTUMN, "points": None}
    assert _codes(office.data(CREATE, {"input": no_points})["createOffer"]) == [
        ("INVALID_OFFER", None)
    ]
    far = {**AUTUMN, "context": {"stores": ["nergens"], "radiusM": 500}}
    refused = office.data(CREATE, {"input": far})["createOffer"]
    assert _codes(refused) == [("INVALID_OFFER", ["input", "context.stores"])]
    assert "nergens" in refused["userErrors"][0]["message"]
    wrong_tier = {**AUTUMN, "eligibility": {"tiers": ["platina"]}}
    refused = office.data(CREATE, {"input": wrong_tier})["createOffer"]
    assert _codes(refused) == [("INVALID_OFFER", ["input", "eligibility.tiers"])]
    taken = office.data(CREATE, {"input": {**AUTUMN, "key": "voor-iedereen"}})["createOffer"]
    assert _codes(taken) == [("OFFER_KEY_TAKEN", ["input", "key"])]
    clash = {**AUTUMN, "couponCode": "KOFFIE2"}  # the programme's shared code
    assert _codes(office.data(CREATE, {"input": clash})["createOffer"])[0][0] == "INVALID_OFFER"
    nul = {**AUTUMN, "title": "Herfst\u0000", "eligibility": {"interests": ["ko\u0007ffie"]}}
    assert _codes(office.data(CREATE, {"input": nul})["createOffer"]) == [
        ("INVALID_TEXT", ["input", "title"]),
        ("INVALID_TEXT", ["input", "eligibility", "interests", "0"]),
    ]
    archived = office.data(CREATE, {"input": {**AUTUMN, "state": "ARCHIVED"}})["createOffer"]
    assert _codes(archived) == [("INVALID_STATE", ["input", "state"])]

    listed = office.data(
        MEMBER_OFFERS, {"memberId": _member_id(server, clean_database), "context": None}
    )["node"]["offers"]["edges"]
    assert "Herfstbonus" not in {e["node"]["title"] for e in listed}  # nothing was made

    programme_offer = next(
        e["node"]["id"] for e in listed if e["node"]["title"] == "50 extra punten"
    )
    from_file = office.data(PAUSE, {"input": {"offerId": programme_offer}})["pauseOffer"]
    assert _codes(from_file) == [("OFFER_FROM_PROGRAMME", ["input", "offerId"])]
    till = server.client(api_key(clean_database, ["pos"], datetime.now(UTC)))
    assert till.error_codes(CREATE, {"input": AUTUMN}) == ["FORBIDDEN"]


def _member_id(server: ServerHandle, database_url: str) -> str:
    app = server.client()
    app.token = sign_up(app, "ranked@example.com")["session"]["accessToken"]
    return str(app.data(ME)["me"]["id"])


def test_member_offers_come_best_first_with_their_scores(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    office = _office(server, clean_database)
    member_id = _member_id(server, clean_database)
    variables = {"memberId": member_id, "context": {"latitude": 52.3731, "longitude": 4.8922}}
    first = office.data(MEMBER_OFFERS, variables)["node"]["offers"]["edges"]
    assert first == office.data(MEMBER_OFFERS, variables)["node"]["offers"]["edges"]
    scores = [e["node"]["score"] for e in first]
    totals = [s["total"] for s in scores]
    assert totals == sorted(totals, reverse=True) and len(set(totals)) > 1
    for score in scores:
        parts = {p["name"]: p["value"] for p in score["parts"]}
        assert set(parts) == {"affinity", "value", "urgency", "novelty", "context"}
        assert abs(sum(parts.values()) - score["total"]) < 1e-3
    # The cookie is for those right at the store: nothing fits the context better.
    by_title = {e["node"]["title"]: e["node"]["score"] for e in first}
    cookie = {p["name"]: p["value"] for p in by_title["Gratis koekje"]["parts"]}
    assert cookie["context"] > 0.19

    app = server.client()
    app.token = sign_up(app, "no-scores@example.com")["session"]["accessToken"]
    own = app.data("{ me { offers(first: 5) { edges { node { title score { total } } } } } }")[
        "me"
    ]["offers"]["edges"]
    assert own and all(e["node"]["score"] is None for e in own)
