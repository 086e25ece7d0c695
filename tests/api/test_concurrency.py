"""No double spend, no double earn: many real HTTP requests in flight at once against the
running server, on SQLite (one writer at a time) and on PostgreSQL (the member's account row
locked)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml

from loyalty.core.clock import FixedClock
from loyalty.demo.data import DEMO_PROGRAMME
from tests.contract.operations import operation
from tests.support.data import api_key, install
from tests.support.flows import SIGN_UP, STRONG_PASSWORD, sign_up
from tests.support.server import GraphQLClient, ServerHandle

IN_FLIGHT = 50

REDEEM = """
mutation RedeemReward($input: RedeemRewardInput!) {
  redeemReward(input: $input) {
    redemption { id code status points }
    balance { available }
    userErrors { field message code }
  }
}"""
# Exactly as the tills send them.
RECORD_PURCHASE = operation("pos/pos.graphql", "RecordPurchase")
REDEEM_CODE = operation("pos/pos.graphql", "RedeemCode")
CANCEL = """
mutation Cancel($input: CancelRedemptionInput!) {
  cancelRedemption(input: $input) {
    redemption { id status }
    balance { available }
    userErrors { field message code }
  }
}"""
ADJUST = """
mutation Adjust($input: AdjustPointsInput!) {
  adjustPoints(input: $input) {
    member { balance { available } }
    userErrors { field message code }
  }
}"""
SET_TIER = """
mutation SetTier($input: SetMemberTierInput!) {
  setMemberTier(input: $input) { tier { key } userErrors { code } }
}"""
REWARDS = "{ rewards(first: 20) { edges { node { id key stockLeft } } } }"
ME = """
query {
  me {
    balance { available pending lifetimeEarned }
    transactions(first: 100) { edges { node { kind points } } }
    redemptions(first: 100) { edges { node { id code status points } } }
  }
}"""


@dataclass
class Shop:
    """The programme in force, a till, a back office, a signed-up member and the rewards."""

    server: ServerHandle
    till: GraphQLClient
    office: GraphQLClient
    member: GraphQLClient
    member_id: str
    barcode: str
    rewards: dict[str, dict[str, Any]]

    def give(self, member_id: str, points: int) -> None:
        adjusted = self.office.data(
            ADJUST,
            {"input": {"member": {"id": member_id}, "points": points, "reason": "Startsaldo"}},
        )["adjustPoints"]
        assert adjusted["userErrors"] == [], adjusted["userErrors"]


def programme() -> str:
    """The demo programme with three more unlimited 300-point rewards: taps spread over them
    do not queue behind one reward's stock row, only behind the member's account lock."""
    data = yaml.safe_load(DEMO_PROGRAMME.read_text(encoding="utf-8"))
    data["rewards"] += [
        {"key": key, "name": name, "kind": "free_product", "points_cost": 300}
        for key, name in [("muffin", "Muffin"), ("thee", "Thee naar keuze"), ("koek", "Koek")]
    ]
    return str(yaml.safe_dump(data, allow_unicode=True))


@pytest.fixture
def shop(server: ServerHandle, clean_database: str, server_clock: FixedClock) -> Shop:
    install(clean_database, programme())
    now = server_clock.now()
    till = server.client(api_key(clean_database, ["pos"], now, "Till 1"))
    office = server.client(api_key(clean_database, ["admin"], now, "Back office"))
    signed_up = sign_up(server.client(), "gelijktijdig@example.com")
    member = server.client(signed_up["session"]["accessToken"])
    barcode = member.data("{ me { card { barcodeMessage } } }")["me"]["card"]["barcodeMessage"]
    rewards = {
        edge["node"]["key"]: edge["node"] for edge in member.data(REWARDS)["rewards"]["edges"]
    }
    return Shop(server, till, office, member, signed_up["member"]["id"], barcode, rewards)


Request = tuple[str | None, str, dict[str, Any]]  # (bearer token, query, variables)


def all_at_once(url: str, requests: list[Request]) -> list[dict[str, Any]]:
    """Send every request at the same moment, each on its own (already open) connection, and
    return the responses in request order."""

    async def run() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=None)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            # Open one connection per request first, so the real requests start together
            # instead of queueing behind TCP handshakes.
            warm = [http.post(url, json={"query": "{ __typename }"}) for _ in requests]
            assert all(r.status_code == 200 for r in await asyncio.gather(*warm))

            async def send(token: str | None, query: str, variables: dict[str, Any]) -> Any:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = await http.post(
                    url, json={"query": query, "variables": variables}, headers=headers
                )
                assert response.status_code == 200, response.text
                return response.json()

            return list(await asyncio.gather(*(send(*r) for r in requests)))

    results = asyncio.run(run())
    for result in results:
        assert not result.get("errors"), result["errors"]
    return results


def codes(payloads: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["code"] for p in payloads for e in p["userErrors"])


def test_a_member_gets_exactly_the_redemptions_they_can_afford(shop: Shop) -> None:
    # 900 points buy exactly three 300-point rewards, whichever three taps come first.
    treats = [shop.rewards[key]["id"] for key in ("muffin", "thee", "koek")]
    shop.give(shop.member_id, 900)
    token = shop.member.token

    results = all_at_once(
        shop.server.graphql_url,
        [
            (token, REDEEM, {"input": {"rewardId": treats[i % 3], "idempotencyKey": f"tap-{i}"}})
            for i in range(IN_FLIGHT)
        ],
    )

    payloads = [r["data"]["redeemReward"] for r in results]
    won = [p for p in payloads if p["redemption"] is not None]
    assert len(won) == 3
    assert all(p["userErrors"] == [] and p["redemption"]["points"] == 300 for p in won)
    assert codes(payloads) == {"INSUFFICIENT_POINTS": IN_FLIGHT - 3}
    assert all(p["redemption"] is None for p in payloads if p["userErrors"])
    # Each success saw the balance after its own spend: 600, 300 and 0, in some order.
    assert sorted(p["balance"]["available"] for p in won) == [0, 300, 600]

    me = shop.member.data(ME)["me"]
    assert me["balance"]["available"] == 0
    redemptions = [e["node"] for e in me["redemptions"]["edges"]]
    assert len(redemptions) == 3
    assert {r["code"] for r in redemptions} == {p["redemption"]["code"] for p in won}
    assert all(r["status"] == "ISSUED" for r in redemptions)
    kinds = Counter(e["node"]["kind"] for e in me["transactions"]["edges"])
    assert kinds == {"SPEND": 3, "ADJUST": 1}


def test_a_per_member_limit_holds_however_many_taps_arrive_at_once(shop: Shop) -> None:
    # A free coffee costs 300 points, at most twice a month: 3000 points still buy only 2.
    coffee = shop.rewards["gratis-koffie"]
    shop.give(shop.member_id, 3000)

    results = all_at_once(
        shop.server.graphql_url,
        [
            (
                shop.member.token,
                REDEEM,
                {"input": {"rewardId": coffee["id"], "idempotencyKey": f"koffie-{i}"}},
            )
            for i in range(20)
        ],
    )

    payloads = [r["data"]["redeemReward"] for r in results]
    assert sum(p["redemption"] is not None for p in payloads) == 2
    assert codes(payloads) == {"LIMIT_REACHED": 18}
    me = shop.member.data(ME)["me"]
    assert me["balance"]["available"] == 3000 - 2 * 300
    assert len(me["redemptions"]["edges"]) == 2


def test_stock_is_never_handed_out_twice_across_members(shop: Shop) -> None:
    # The barista workshop (5000 points, silver and gold only) has 12 places. Different
    # members hold different account locks, so only the stock reservation stands in the way.
    workshop = shop.rewards["barista-workshop"]
    assert workshop["stockLeft"] == 12
    url, office, crowd = shop.server.graphql_url, shop.office.token, 14
    signed_up = [
        r["data"]["signUp"]
        for r in all_at_once(
            url,
            [
                (
                    None,
                    SIGN_UP,
                    {"input": {"email": f"workshop{i}@example.com", "password": STRONG_PASSWORD}},
                )
                for i in range(crowd)
            ],
        )
    ]
    assert all(p["userErrors"] == [] for p in signed_up)
    refs = [{"id": p["member"]["id"]} for p in signed_up]
    prepared = all_at_once(
        url,
        [
            (office, ADJUST, {"input": {"member": r, "points": 5000, "reason": "Start"}})
            for r in refs
        ]
        + [(office, SET_TIER, {"input": {"member": r, "tier": "goud"}}) for r in refs],
    )
    assert all(not next(iter(r["data"].values()))["userErrors"] for r in prepared)
    members = [shop.server.client(p["session"]["accessToken"]) for p in signed_up]

    results = all_at_once(
        url,
        [
            (m.token, REDEEM, {"input": {"rewardId": workshop["id"], "idempotencyKey": f"w{i}"}})
            for i, m in enumerate(members)
        ],
    )

    payloads = [r["data"]["redeemReward"] for r in results]
    won = [p for p in payloads if p["redemption"] is not None]
    assert len(won) == 12
    assert len({p["redemption"]["code"] for p in won}) == 12
    assert codes(payloads) == {"OUT_OF_STOCK": crowd - 12}
    balances = sorted(m.data(ME)["me"]["balance"]["available"] for m in members)
    assert balances == [0] * 12 + [5000] * (crowd - 12)
    left = {e["node"]["key"]: e["node"] for e in shop.member.data(REWARDS)["rewards"]["edges"]}
    assert left["barista-workshop"]["stockLeft"] == 0


def test_retries_of_one_purchase_earn_once(shop: Shop) -> None:
    sale = {
        "input": {
            "member": {"barcodeMessage": shop.barcode},
            "externalId": "till1-000777",
            "lines": [
                {"sku": "KOF-CAP", "category": "koffie", "quantity": "2", "unitPrice": "3.40"},
                {"sku": "TAA-APL", "category": "gebak", "quantity": "2", "unitPrice": "4.25"},
            ],
        }
    }

    results = all_at_once(
        shop.server.graphql_url, [(shop.till.token, RECORD_PURCHASE, sale)] * IN_FLIGHT
    )

    payloads = [r["data"]["recordPurchase"] for r in results]
    assert all(p["userErrors"] == [] for p in payloads)
    assert len({p["purchase"]["id"] for p in payloads}) == 1
    # 10 points per euro on €15.30, pending for 14 days; every retry says the same.
    assert {p["purchase"]["pointsEarned"] for p in payloads} == {153}
    assert {p["purchase"]["pointsPending"] for p in payloads} == {153}
    assert {(p["member"]["balance"]["pending"]) for p in payloads} == {153}

    me = shop.member.data(ME)["me"]
    assert me["balance"] == {"available": 0, "pending": 153, "lifetimeEarned": 153}
    entries = [e["node"] for e in me["transactions"]["edges"]]
    assert entries == [{"kind": "EARN", "points": 153}]


def test_different_purchases_at_once_all_count(shop: Shop) -> None:
    """The other side of idempotency: distinct sales for one member are all kept, and the
    cached balance loses none of them."""
    results = all_at_once(
        shop.server.graphql_url,
        [
            (
                shop.till.token,
                RECORD_PURCHASE,
                {
                    "input": {
                        "member": {"barcodeMessage": shop.barcode},
                        "externalId": f"till1-{i:06d}",
                        "lines": [{"sku": "KOF-ESP", "quantity": "1", "unitPrice": "2.00"}],
                    }
                },
            )
            for i in range(20)
        ],
    )

    payloads = [r["data"]["recordPurchase"] for r in results]
    assert all(p["userErrors"] == [] and p["purchase"]["pointsEarned"] == 20 for p in payloads)
    assert len({p["purchase"]["id"] for p in payloads}) == 20
    me = shop.member.data(ME)["me"]
    total = 20 * 20
    assert me["balance"] == {"available": 0, "pending": total, "lifetimeEarned": total}
    assert len(me["transactions"]["edges"]) == 20


def test_retries_of_one_tap_redeem_once(shop: Shop) -> None:
    cake = shop.rewards["taart-korting"]
    shop.give(shop.member_id, 600)
    tap = {"input": {"rewardId": cake["id"], "idempotencyKey": "tap-once"}}

    results = all_at_once(shop.server.graphql_url, [(shop.member.token, REDEEM, tap)] * IN_FLIGHT)

    payloads = [r["data"]["redeemReward"] for r in results]
    assert all(p["userErrors"] == [] for p in payloads)
    assert len({p["redemption"]["id"] for p in payloads}) == 1
    assert len({p["redemption"]["code"] for p in payloads}) == 1
    assert {p["balance"]["available"] for p in payloads} == {400}

    me = shop.member.data(ME)["me"]
    assert me["balance"]["available"] == 400
    assert len(me["redemptions"]["edges"]) == 1
    assert me["redemptions"]["edges"][0]["node"]["code"] == payloads[0]["redemption"]["code"]
    assert Counter(e["node"]["kind"] for e in me["transactions"]["edges"]) == {
        "SPEND": 1,
        "ADJUST": 1,
    }


def _redeemed_code(shop: Shop) -> dict[str, Any]:
    shop.give(shop.member_id, 200)
    redeemed = shop.member.data(
        REDEEM,
        {"input": {"rewardId": shop.rewards["taart-korting"]["id"], "idempotencyKey": "tap"}},
    )["redeemReward"]
    assert redeemed["userErrors"] == []
    return dict(redeemed["redemption"])


def test_a_code_is_taken_once_by_tills_at_the_same_moment(shop: Shop) -> None:
    redemption = _redeemed_code(shop)

    results = all_at_once(
        shop.server.graphql_url,
        [(shop.till.token, REDEEM_CODE, {"input": {"code": redemption["code"]}})] * 20,
    )

    payloads = [r["data"]["redeemCode"] for r in results]
    won = [p for p in payloads if not p["userErrors"]]
    assert len(won) == 1
    assert won[0]["redemption"] == {
        "id": redemption["id"],
        "code": redemption["code"],
        "status": "REDEEMED",
    }
    assert codes(payloads) == {"CODE_ALREADY_USED": 19}
    assert all(
        p["userErrors"][0]["field"] == ["input", "code"] for p in payloads if p["userErrors"]
    )


def test_a_till_and_a_cancel_racing_for_one_code_have_one_winner(shop: Shop) -> None:
    redemption = _redeemed_code(shop)
    take = (shop.till.token, REDEEM_CODE, {"input": {"code": redemption["code"]}})
    cancel = (shop.member.token, CANCEL, {"input": {"redemptionId": redemption["id"]}})

    results = all_at_once(shop.server.graphql_url, [take, cancel] * 10)

    tills = [r["data"]["redeemCode"] for r in results[0::2]]
    cancels = [r["data"]["cancelRedemption"] for r in results[1::2]]
    taken = [p for p in tills if not p["userErrors"]]
    cancelled = [p for p in cancels if not p["userErrors"]]
    assert len(taken) + len(cancelled) == 1
    status = shop.member.data(ME)["me"]["redemptions"]["edges"][0]["node"]["status"]
    available = shop.member.data(ME)["me"]["balance"]["available"]
    assert codes(cancels)["NOT_CANCELLABLE"] == len(cancels) - len(cancelled)
    if taken:
        assert status == "REDEEMED" and available == 0
        assert codes(tills) == {"CODE_ALREADY_USED": 9}
    else:
        assert status == "CANCELLED" and available == 200
        assert codes(tills) == {"CODE_CANCELLED": 10}
