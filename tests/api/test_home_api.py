"""The app's `Home` screen over HTTP, exactly as the contract writes it: one round trip, and a
number of SQL statements that does not grow with the programme's offers."""

from __future__ import annotations

from tests.contract.operations import operation
from tests.loyalty.offers.programme import CENTRUM, PROGRAMME
from tests.support.data import install
from tests.support.flows import sign_up
from tests.support.server import ServerHandle

HOME = operation("member-app/home.graphql", "Home")  # PROBE
# What one `Home` request may cost, with 6 or 50 offers in the programme alike: the session
# check, the member, their tier, balance, offers (facts, segments, buying history), the pending
# survey and the inbox, all in one transaction on one connection. Measured: 20 on PostgreSQL,
# 21 on SQLite (which counts its one BEGIN); before the request scope, 24 and 32 (6 BEGINs).
# Campaigns' contact log (the one contact budget) added one: 22. The member is read once (the
# survey check finds them in the session) and the tier check sums in one query: 21 on SQLite,
# 20 on PostgreSQL.
HOME_STATEMENTS = 21


def _with_offers(count: int) -> str:
    """The offers test programme with `count` more offers, half of them near the Dam."""
    extra = "".join(
        f"  - key: extra-{i}\n    title: Extra {i}\n    kind: bonus_points\n    points: {i + 1}\n"
        + ("    context: {stores: [centrum], radius_m: 800}\n" if i % 2 else "")
        for i in range(count)
    )
    return PROGRAMME + extra


def test_home_as_the_app_sends_it(server: ServerHandle, clean_database: str) -> None:
    install(clean_database, PROGRAMME)
    app = server.client()
    app.token = sign_up(app, "home@example.com", firstName="Sanne")["session"]["accessToken"]
    context = {"latitude": CENTRUM[0], "longitude": CENTRUM[1]}
    me = app.data(HOME, {"offerContext": context})["me"]
    assert me["firstName"] == "Sanne" and len(me["memberNumber"]) == 10
    assert me["balance"]["available"] == 0 and me["card"]["barcodeMessage"]
    titles = {e["node"]["title"] for e in me["offers"]["edges"]}
    assert "Gratis koekje" in titles  # near the Dam
    assert me["inbox"]["totalCount"] == 0
    assert "pendingSurvey" in me


def test_home_costs_the_same_with_six_or_fifty_offers(
    server: ServerHandle, clean_database: str, statements: list[str]
) -> None:
    context = {"latitude": CENTRUM[0], "longitude": CENTRUM[1]}
    counts = []
    for extra in (0, 44):
        install(clean_database, _with_offers(extra))
        app = server.client()
        app.token = sign_up(app, f"home{extra}@example.com")["session"]["accessToken"]
        app.data(HOME, {"offerContext": context})  # the first request warms the caches
        statements.clear()
        me = app.data(HOME, {"offerContext": context})["me"]
        counts.append(len(statements))
        assert len(me["offers"]["edges"]) == 10 if extra else len(me["offers"]["edges"]) >= 4
    assert counts[0] == counts[1], counts
    assert counts[1] <= HOME_STATEMENTS, counts
