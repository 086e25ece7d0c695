"""An offer made for (or taken from) everyone reaches the `offersChanged` of each connected
member it changes something for, through one programme-wide event; nobody else hears it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tests.contract.operations import operation
from tests.loyalty.offers.programme import PROGRAMME
from tests.support.data import api_key, install
from tests.support.flows import sign_up
from tests.support.live import listening
from tests.support.server import GraphQLClient, ServerHandle

CREATE = operation("admin/offers-segments.graphql", "CreateOffer")
ACTIVATE = operation("member-app/offers.graphql", "ActivateOffer")
COFFEE_LOVER = """
mutation($profile: UpdateProfileInput!, $consent: SetConsentInput!) {
  updateProfile(input: $profile) { userErrors { code } }
  setConsent(input: $consent) { userErrors { code } }
}"""


def _member(server: ServerHandle, email: str, coffee: bool) -> GraphQLClient:
    app = server.client()
    app.token = sign_up(app, email)["session"]["accessToken"]
    if coffee:
        app.data(
            COFFEE_LOVER,
            {
                "profile": {"interests": ["koffie"]},
                "consent": {"channel": "PERSONALISATION", "granted": True},
            },
        )
    return app


def _create(office: GraphQLClient, **fields: Any) -> dict[str, Any]:
    made = office.data(CREATE, {"input": {"kind": "BONUS_POINTS", "points": 5, **fields}})
    assert made["createOffer"]["userErrors"] == []
    return dict(made["createOffer"]["offer"])


async def _next(queue: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    return dict((await asyncio.wait_for(queue.get(), timeout=5))["offersChanged"])


async def test_a_new_offer_reaches_those_it_is_for(
    server: ServerHandle, clean_database: str
) -> None:
    await asyncio.to_thread(install, clean_database, PROGRAMME)
    key = await asyncio.to_thread(api_key, clean_database, ["admin"], datetime.now(UTC))
    office = server.client(key)
    anna = await asyncio.to_thread(_member, server, "anna-live@example.com", True)
    bram = await asyncio.to_thread(_member, server, "bram-live@example.com", False)
    assert anna.token and bram.token
    async with (
        listening(server.ws_url, anna.token, "OnOffersChanged") as annas,
        listening(server.ws_url, bram.token, "OnOffersChanged") as brams,
    ):
        coffee = {"eligibility": {"interests": ["koffie"]}}
        await asyncio.to_thread(
            _create, office, key="koffie-live", title="Koffie live", state="LIVE", **coffee
        )
        heard = await _next(annas)
        assert (heard["change"], heard["offer"]["title"]) == ("GRANTED", "Koffie live")
        await asyncio.sleep(0.3)
        assert brams.empty()  # not for him: no interest, no consent

        await asyncio.to_thread(
            _create, office, key="een-keer", title="Eén keer", state="LIVE", globalLimit=1
        )
        for queue in (annas, brams):
            heard = await _next(queue)
            assert (heard["change"], heard["offer"]["title"]) == ("GRANTED", "Eén keer")

        done = await asyncio.to_thread(
            anna.data, ACTIVATE, {"input": {"offerId": heard["offer"]["id"]}}
        )
        assert done["activateOffer"]["userErrors"] == []
        gone = await _next(brams)  # the last place went to Anna
        assert (gone["change"], gone["offer"]["title"]) == ("REMOVED", "Eén keer")
        mine = await _next(annas)
        assert (mine["change"], mine["offer"]["state"]) == ("UPDATED", "ACTIVATED")
        await asyncio.sleep(0.3)
        assert annas.empty()  # she keeps it: the offer going for everyone is not her news
