"""The contract's `Offers` and `ActivateOffer` over HTTP, exactly as the app sends them."""

from __future__ import annotations

from typing import Any

from tests.contract.operations import operation
from tests.loyalty.offers.programme import CENTRUM, FAR_AWAY, PROGRAMME
from tests.support.data import install
from tests.support.flows import sign_up
from tests.support.server import GraphQLClient, ServerHandle

OFFERS = operation("member-app/offers.graphql", "Offers")
ACTIVATE = operation("member-app/offers.graphql", "ActivateOffer")
SET_CONSENT = """
mutation($input: SetConsentInput!) { setConsent(input: $input) { userErrors { code } } }"""


def _titles(app: GraphQLClient, context: dict[str, object] | None) -> dict[str, Any]:
    data = app.data(OFFERS, {"first": 20, "context": context})["me"]["offers"]
    return {e["node"]["title"]: e["node"] for e in data["edges"]}


def test_offers_and_activation_as_the_app_sends_them(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    app = server.client()
    app.token = sign_up(app, "offers@example.com")["session"]["accessToken"]

    near = _titles(app, {"latitude": CENTRUM[0], "longitude": CENTRUM[1], "weather": "rain"})
    far = _titles(app, {"latitude": FAR_AWAY[0], "longitude": FAR_AWAY[1]})
    assert "Gratis koekje" in near and "Gratis koekje" not in far
    assert "Dubbele punten op koffie" not in near  # personalised, and no consent
    assert {"50 extra punten", "2 euro korting", "Een van de tien"} <= set(far)
    cookie = near["Gratis koekje"]
    assert cookie["kind"] == "FREE_ITEM" and cookie["state"] == "AVAILABLE"
    assert cookie["couponCode"] is None

    context = {"latitude": CENTRUM[0], "longitude": CENTRUM[1]}
    done = app.data(ACTIVATE, {"input": {"offerId": cookie["id"], "context": context}})
    assert done["activateOffer"]["userErrors"] == []
    assert done["activateOffer"]["offer"]["state"] == "ACTIVATED"
    again = app.data(ACTIVATE, {"input": {"offerId": cookie["id"], "context": context}})
    assert [e["code"] for e in again["activateOffer"]["userErrors"]] == ["ALREADY_ACTIVATED"]
    node = app.data(
        "query($id: ID!) { node(id: $id) { ... on Offer { state } } }", {"id": cookie["id"]}
    )
    assert node["node"] == {"state": "ACTIVATED"}

    shared = near["2 euro korting"]
    coded = app.data(ACTIVATE, {"input": {"offerId": shared["id"]}})["activateOffer"]
    assert coded["offer"]["couponCode"] == "KOFFIE2"

    far_away = {"latitude": FAR_AWAY[0], "longitude": FAR_AWAY[1]}
    refused = app.data(
        ACTIVATE, {"input": {"offerId": near["Een van de tien"]["id"], "context": {"latitude": 91}}}
    )["activateOffer"]
    assert {e["code"] for e in refused["userErrors"]} == {
        "INVALID_LATITUDE",
        "INCOMPLETE_LOCATION",
    }
    assert refused["offer"] is None
    other = server.client()
    other.token = sign_up(other, "elsewhere@example.com")["session"]["accessToken"]
    elsewhere = other.data(ACTIVATE, {"input": {"offerId": cookie["id"], "context": far_away}})[
        "activateOffer"
    ]
    assert [e["code"] for e in elsewhere["userErrors"]] == ["NOT_IN_CONTEXT"]


def test_paging_and_bad_context(server: ServerHandle, clean_database: str) -> None:
    install(clean_database, PROGRAMME)
    app = server.client()
    app.token = sign_up(app, "pages@example.com")["session"]["accessToken"]
    seen: list[str] = []
    after = None
    while True:
        page = app.data(OFFERS, {"first": 2, "after": after})["me"]["offers"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    everything = app.data(OFFERS, {"first": 20})["me"]["offers"]["edges"]
    assert seen == [e["node"]["id"] for e in everything]
    assert app.error_codes(OFFERS, {"first": 5, "context": {"weather": "drizzle"}}) == [
        "BAD_USER_INPUT"
    ]
