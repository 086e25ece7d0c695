"""Points, tiers and rewards over real HTTP: who may call what, userErrors for bad input, the
balance and tier a member sees as time passes, history paging, nodes, cancelling a reward,
the liability report, staff tiers and the balance part of the app's home screen."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from graphql import FieldNode, OperationDefinitionNode, parse, print_ast

from loyalty.core.clock import FixedClock
from tests.api.helpers import contract
from tests.support.data import api_key, install, sealed_id
from tests.support.flows import SIGN_IN, STRONG_PASSWORD, sign_up
from tests.support.server import GraphQLClient, ServerHandle

ZONE = ZoneInfo("Europe/Amsterdam")  # the demo programme's timezone

RECORD_PURCHASE = """
mutation RecordPurchase($input: RecordPurchaseInput!) {
  recordPurchase(input: $input) {
    purchase { id externalId total pointsEarned pointsPending pointsReversed }
    member { id balance { available pending } }
    userErrors { field message code }
  }
}"""
RECORD_RETURN = """
mutation RecordReturn($input: RecordReturnInput!) {
  recordReturn(input: $input) { pointsReversed userErrors { field message code } }
}"""
RECORD_EVENT = """
mutation RecordEvent($input: RecordEventInput!) {
  recordEvent(input: $input) { pointsAwarded userErrors { field message code } }
}"""
PREVIEW = """
query Preview($input: PurchasePreviewInput!) {
  purchasePreview(input: $input) { points awards { rule points description } }
}"""
BY_CARD = "query ByCard($barcode: String!) { memberByCard(barcodeMessage: $barcode) { id } }"
ADJUST = """
mutation Adjust($input: AdjustPointsInput!) {
  adjustPoints(input: $input) {
    entry { id kind points description }
    member { id balance { available } }
    userErrors { field message code }
  }
}"""
SET_TIER = """
mutation SetTier($input: SetMemberTierInput!) {
  setMemberTier(input: $input) {
    tier { key name benefits guaranteedUntil nextTier { name } }
    userErrors { field message code }
  }
}"""
LIABILITY = """
query {
  liability {
    currency pointValue availablePoints pendingPoints outstandingPoints value
  }
}"""
MEMBERS = "query { members(first: 100) { edges { node { id balance { available pending } } } } }"
REDEEM = """
mutation RedeemReward($input: RedeemRewardInput!) {
  redeemReward(input: $input) {
    redemption { id code status points reward { id key } }
    balance { available }
    userErrors { field message code }
  }
}"""
CANCEL = """
mutation Cancel($input: CancelRedemptionInput!) {
  cancelRedemption(input: $input) {
    redemption { id status cancelledAt }
    balance { available }
    userErrors { field message code }
  }
}"""
REDEEM_CODE = """
mutation RedeemCode($input: RedeemCodeInput!) {
  redeemCode(input: $input) {
    redemption { id status }
    userErrors { field message code }
  }
}"""
REWARDS = "{ rewards(first: 20) { edges { node { id key available affordable } } } }"
ME = """
query {
  me {
    balance { available pending lifetimeEarned expiringSoon { points expiresAt } }
    tier {
      key name benefits guaranteedUntil
      nextTier { name }
      progress { qualifyingPoints pointsToNextTier periodEndsAt }
    }
  }
}"""
TRANSACTIONS = """
query Transactions($first: Int, $after: String) {
  me {
    transactions(first: $first, after: $after) {
      edges { cursor node { id kind points description availableAt expiresAt } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}"""
REDEMPTIONS = "{ me { redemptions(first: 10) { edges { node { id status } } } } }"
NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on PointsTransaction { kind points }
    ... on Purchase { externalId pointsEarned }
    ... on Redemption { code status }
    ... on Reward { key }
  }
}"""

CAPPUCCINOS_AND_CAKE = [  # €15.30, all of it earning: 153 points
    {"sku": "KOF-CAP", "category": "koffie", "quantity": "2", "unitPrice": "3.40"},
    {"sku": "TAA-APL", "category": "gebak", "quantity": "2", "unitPrice": "4.25"},
]
BIG_LUNCH = [  # €25.80 earning (258 points, and the 50-point bonus from €25); a gift card
    {"sku": "KOF-CAP", "category": "koffie", "quantity": "2", "unitPrice": "3.40"},
    {"sku": "LUN-BRD", "category": "lunch", "quantity": "2", "unitPrice": "9.50"},
    {"sku": "BON-25", "category": "cadeaubon", "quantity": "1", "unitPrice": "25.00"},
]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def gid(raw: str) -> str:
    return sealed_id(raw)


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code", "") for e in result.get("errors") or []]


@dataclass
class Member:
    client: GraphQLClient
    id: str
    email: str
    number: str
    barcode: str

    def sign_in_again(self) -> None:
        """After the server clock moved on, the old access token has expired."""
        anonymous = GraphQLClient(self.client.url)
        payload = anonymous.data(
            SIGN_IN, {"input": {"email": self.email, "password": STRONG_PASSWORD}}
        )["signIn"]
        assert payload["userErrors"] == [], payload["userErrors"]
        self.client.token = payload["session"]["accessToken"]

    def me(self) -> dict[str, Any]:
        return dict(self.client.data(ME)["me"])

    def entries(self, first: int = 100) -> list[dict[str, Any]]:
        page = self.client.data(TRANSACTIONS, {"first": first})["me"]["transactions"]
        return [e["node"] for e in page["edges"]]


@dataclass
class Shop:
    server: ServerHandle
    clock: FixedClock
    till: GraphQLClient
    office: GraphQLClient

    def member(self, email: str, **profile: Any) -> Member:
        signed_up = sign_up(self.server.client(), email, **profile)
        client = self.server.client(signed_up["session"]["accessToken"])
        card = client.data("{ me { card { barcodeMessage } } }")["me"]["card"]
        return Member(
            client,
            signed_up["member"]["id"],
            email,
            signed_up["member"]["memberNumber"],
            card["barcodeMessage"],
        )

    def buy(self, member: Member, external_id: str, lines: list[dict[str, str]]) -> Any:
        payload = self.till.data(
            RECORD_PURCHASE,
            {
                "input": {
                    "member": {"barcodeMessage": member.barcode},
                    "externalId": external_id,
                    "lines": lines,
                }
            },
        )["recordPurchase"]
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload

    def give(self, member: Member, points: int, reason: str = "Welkomstcadeau") -> Any:
        payload = self.office.data(
            ADJUST, {"input": {"member": {"id": member.id}, "points": points, "reason": reason}}
        )["adjustPoints"]
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload

    def reward(self, key: str) -> str:
        edges = self.till.data(REWARDS)["rewards"]["edges"]
        return str(next(e["node"]["id"] for e in edges if e["node"]["key"] == key))

    def redeem(self, member: Member, key: str, tap: str) -> dict[str, Any]:
        payload = member.client.data(
            REDEEM, {"input": {"rewardId": self.reward(key), "idempotencyKey": tap}}
        )["redeemReward"]
        assert payload["userErrors"] == [], payload["userErrors"]
        return dict(payload["redemption"])


@pytest.fixture
def shop(server: ServerHandle, clean_database: str, server_clock: FixedClock) -> Shop:
    install(clean_database)
    now = server_clock.now()
    return Shop(
        server,
        server_clock,
        server.client(api_key(clean_database, ["pos"], now, "Till 1")),
        server.client(api_key(clean_database, ["admin"], now, "Back office")),
    )


# -- who may call what ------------------------------------------------------------------------

SALE_INPUT: dict[str, Any] = {
    "member": {"memberNumber": "0000000000"},
    "externalId": "x-1",
    "lines": [{"sku": "A", "quantity": "1", "unitPrice": "1.00"}],
}
Operations = dict[str, tuple[str, dict[str, Any]]]
TILL_OPERATIONS: Operations = {
    "recordPurchase": (RECORD_PURCHASE, {"input": SALE_INPUT}),
    "recordReturn": (
        RECORD_RETURN,
        {"input": {"purchaseExternalId": "x-1", "externalId": "r-1", "amount": "1.00"}},
    ),
    "recordEvent": (
        RECORD_EVENT,
        {"input": {"member": {"memberNumber": "0000000000"}, "externalId": "e", "name": "x"}},
    ),
    "redeemCode": (REDEEM_CODE, {"input": {"code": "AAAA-BBBB-CCCC"}}),
    "memberByCard": (BY_CARD, {"barcode": "anything"}),
    "purchasePreview": (PREVIEW, {"input": {"lines": SALE_INPUT["lines"]}}),
}
OFFICE_OPERATIONS: Operations = {
    "adjustPoints": (
        ADJUST,
        {"input": {"member": {"memberNumber": "0000000000"}, "points": 1, "reason": "r"}},
    ),
    "setMemberTier": (
        SET_TIER,
        {"input": {"member": {"memberNumber": "0000000000"}, "tier": "goud"}},
    ),
    "liability": (LIABILITY, {}),
    "members": (MEMBERS, {}),
}
MEMBER_OPERATIONS: Operations = {
    "redeemReward": (REDEEM, {"input": {"rewardId": gid("Reward:1"), "idempotencyKey": "t"}}),
    "cancelRedemption": (CANCEL, {"input": {"redemptionId": gid("Redemption:1")}}),
}


def test_till_operations_need_a_pos_key(shop: Shop) -> None:
    member = shop.member("kassa@example.com")
    anonymous = shop.server.client()
    for name, (query, variables) in TILL_OPERATIONS.items():
        assert member.client.error_codes(query, variables) == ["FORBIDDEN"], name
        assert anonymous.error_codes(query, variables) == ["UNAUTHENTICATED"], name
        # A pos key passes the check (whatever the made-up input then leads to), and so
        # does an admin key, which may do everything a till may.
        assert shop.till.error_codes(query, variables) == [], name
        assert shop.office.error_codes(query, variables) == [], name


def test_back_office_operations_need_an_admin_key(shop: Shop) -> None:
    member = shop.member("kantoor@example.com")
    anonymous = shop.server.client()
    for name, (query, variables) in OFFICE_OPERATIONS.items():
        result = shop.till.post(query, variables)
        assert codes(result) == ["FORBIDDEN"], name
        assert "admin" in result["errors"][0]["message"], name
        assert member.client.error_codes(query, variables) == ["FORBIDDEN"], name
        assert anonymous.error_codes(query, variables) == ["UNAUTHENTICATED"], name
        assert shop.office.error_codes(query, variables) == [], name


def test_redeeming_and_cancelling_are_for_members(shop: Shop) -> None:
    anonymous = shop.server.client()
    for name, (query, variables) in MEMBER_OPERATIONS.items():
        assert shop.till.error_codes(query, variables) == ["FORBIDDEN"], name
        assert shop.office.error_codes(query, variables) == ["FORBIDDEN"], name
        assert anonymous.error_codes(query, variables) == ["UNAUTHENTICATED"], name


# -- userErrors for bad input -----------------------------------------------------------------


def _sale(**changes: Any) -> dict[str, Any]:
    sale = {
        "member": {"memberNumber": "0000000000"},
        "externalId": "till1-1",
        "lines": CAPPUCCINOS_AND_CAKE,
    }
    sale.update(changes)
    return {"input": sale}


def test_bad_purchases_are_user_errors_and_record_nothing(shop: Shop) -> None:
    member = shop.member("fout@example.com")
    card = {"barcodeMessage": member.barcode}
    negative = [{"sku": "KOF-CAP", "quantity": "1", "unitPrice": "-3.40"}]
    nothing = [{"sku": "KOF-CAP", "quantity": "0", "unitPrice": "3.40"}]
    future = (shop.clock.now() + timedelta(hours=1)).isoformat()
    cases: list[tuple[dict[str, Any], list[tuple[list[str] | None, str]]]] = [
        (_sale(), [(["input", "member"], "NOT_FOUND")]),
        (_sale(member={"barcodeMessage": "no-such-card"}), [(["input", "member"], "NOT_FOUND")]),
        (
            _sale(member={"memberNumber": member.number, "barcodeMessage": member.barcode}),
            [(["input", "member"], "INVALID_MEMBER_REFERENCE")],
        ),
        (_sale(member={}), [(["input", "member"], "INVALID_MEMBER_REFERENCE")]),
        (_sale(member=card, lines=[]), [(["input", "lines"], "EMPTY_PURCHASE")]),
        (_sale(member=card, lines=negative), [(["input", "lines"], "INVALID_LINE")]),
        # Every problem of the basket at once, not only the first.
        (
            _sale(member=card, lines=negative + nothing),
            [(["input", "lines"], "INVALID_LINE")] * 2,
        ),
        (_sale(member=card, externalId="  "), [(["input", "externalId"], "INVALID_EXTERNAL_ID")]),
        (_sale(member=card, currency="USD"), [(["input", "currency"], "CURRENCY_MISMATCH")]),
        (_sale(member=card, occurredAt=future), [(["input", "occurredAt"], "INVALID_DATE")]),
    ]
    for variables, expected in cases:
        payload = shop.till.data(RECORD_PURCHASE, variables)["recordPurchase"]
        found = [(e["field"], e["code"]) for e in payload["userErrors"]]
        assert found == expected, variables
        assert all(e["message"] for e in payload["userErrors"])
        assert payload["purchase"] is None and payload["member"] is None

    assert member.entries() == []
    assert shop.office.data(LIABILITY)["liability"]["outstandingPoints"] == 0


def test_a_member_id_that_is_not_one_is_bad_input(shop: Shop) -> None:
    reward_id = shop.reward("taart-korting")
    for bad in ["garbage", reward_id, gid("Member:abc"), gid("Member:0"), ""]:
        adjustment = {"member": {"id": bad}, "points": 10, "reason": "Correctie"}
        for client, query, variables in [
            (shop.till, RECORD_PURCHASE, _sale(member={"id": bad})),
            (shop.office, ADJUST, {"input": adjustment}),
        ]:
            result = client.post(query, variables)
            assert codes(result) == ["BAD_USER_INPUT"], bad
            assert result["data"] is None
    preview = shop.till.post(
        PREVIEW, {"input": {"lines": CAPPUCCINOS_AND_CAKE, "member": {"id": reward_id}}}
    )
    assert codes(preview) == ["BAD_USER_INPUT"]


def test_bad_redemptions_are_user_errors(shop: Shop) -> None:
    member = shop.member("wens@example.com")
    other = shop.member("ander@example.com")

    def redeem(reward_id: str, tap: str = "tap") -> dict[str, Any]:
        return member.client.post(REDEEM, {"input": {"rewardId": reward_id, "idempotencyKey": tap}})

    def errors(result: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
        payload = result["data"]["redeemReward"]
        assert payload["redemption"] is None and payload["balance"] is None
        return [(e["field"], e["code"]) for e in payload["userErrors"]]

    unknown = errors(redeem(gid("Reward:999999")))
    assert unknown == [(["input", "rewardId"], "REWARD_NOT_AVAILABLE")]
    # Not enough points yet, and the workshop is for silver and gold only.
    assert errors(redeem(shop.reward("taart-korting")))[0][1] == "INSUFFICIENT_POINTS"
    assert errors(redeem(shop.reward("barista-workshop"))) == [
        (["input", "rewardId"], "TIER_REQUIRED")
    ]
    blank = errors(redeem(shop.reward("taart-korting"), tap=" "))
    assert blank == [(["input", "idempotencyKey"], "INVALID_IDEMPOTENCY_KEY")]
    # Ids of the wrong type, or no id at all, are the client's mistake.
    for bad in [other.id, "garbage", gid("Redemption:1"), ""]:
        result = redeem(bad)
        assert codes(result) == ["BAD_USER_INPUT"], bad
        assert result["data"] is None
    for bad in [shop.reward("taart-korting"), "garbage"]:
        result = member.client.post(CANCEL, {"input": {"redemptionId": bad}})
        assert codes(result) == ["BAD_USER_INPUT"], bad
    unknown_code = shop.till.data(REDEEM_CODE, {"input": {"code": "AAAA-BBBB-CCCC"}})
    assert unknown_code["redeemCode"]["userErrors"][0]["code"] == "CODE_NOT_FOUND"
    assert unknown_code["redeemCode"]["userErrors"][0]["field"] == ["input", "code"]
    garbage = shop.till.data(REDEEM_CODE, {"input": {"code": "no code at all"}})
    assert garbage["redeemCode"]["userErrors"][0]["code"] == "CODE_NOT_FOUND"
    assert member.client.data(REDEMPTIONS)["me"]["redemptions"]["edges"] == []


def test_bad_adjustments_and_tiers_are_user_errors(shop: Shop) -> None:
    member = shop.member("correctie@example.com")
    ref = {"id": member.id}

    def adjust(points: int, reason: str = "Correctie") -> list[tuple[list[str] | None, str]]:
        payload = shop.office.data(
            ADJUST, {"input": {"member": ref, "points": points, "reason": reason}}
        )["adjustPoints"]
        assert payload["entry"] is None
        return [(e["field"], e["code"]) for e in payload["userErrors"]]

    assert adjust(0) == [(["input", "points"], "INVALID_POINTS")]
    assert adjust(10, reason="  ") == [(["input", "reason"], "REASON_REQUIRED")]
    assert adjust(-10) == [(["input", "points"], "INSUFFICIENT_POINTS")]

    def set_tier(**fields: Any) -> list[tuple[list[str] | None, str]]:
        payload = shop.office.data(SET_TIER, {"input": {"member": ref, **fields}})
        assert payload["setMemberTier"]["tier"] is None
        return [(e["field"], e["code"]) for e in payload["setMemberTier"]["userErrors"]]

    assert set_tier(tier="platina") == [(["input", "tier"], "UNKNOWN_TIER")]
    past = (shop.clock.now() - timedelta(days=1)).isoformat()
    assert set_tier(tier="goud", until=past) == [(["input", "until"], "INVALID_DATE")]
    # A time without an offset is ambiguous: refused as well, not an unexpected error.
    naive = (shop.clock.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert set_tier(tier="goud", until=naive) == [(["input", "until"], "INVALID_DATE")]
    assert member.me()["tier"]["key"] == "brons"

    unknown = shop.till.data(
        RECORD_EVENT,
        {
            "input": {
                "member": {"memberNumber": "0000000000"},
                "externalId": "review-1",
                "name": "review_written",
            }
        },
    )["recordEvent"]
    assert unknown == {
        "pointsAwarded": 0,
        "userErrors": [
            {"field": ["input", "member"], "message": "Member not found", "code": "NOT_FOUND"}
        ],
    }


# -- the till's dry run -----------------------------------------------------------------------


def test_purchase_preview_matches_the_purchase_and_records_nothing(shop: Shop) -> None:
    member = shop.member("voorproef@example.com")
    card = {"barcodeMessage": member.barcode}

    def preview(member_ref: dict[str, str] | None) -> dict[str, Any]:
        inputs: dict[str, Any] = {"lines": BIG_LUNCH}
        if member_ref is not None:
            inputs["member"] = member_ref
        return dict(shop.till.data(PREVIEW, {"input": inputs})["purchasePreview"])

    anonymous, personal = preview(None), preview(card)
    assert anonymous == personal
    assert personal["points"] == 308
    assert [(a["rule"], a["points"]) for a in personal["awards"]] == [
        ("base", 258),
        ("grote-bestelling", 50),
    ]
    assert all(a["description"] for a in personal["awards"])
    # Nothing was recorded, however often the till asks.
    assert member.entries() == []
    assert member.me()["balance"]["pending"] == 0
    assert shop.office.data(LIABILITY)["liability"]["outstandingPoints"] == 0

    recorded = shop.buy(member, "till1-lunch-1", BIG_LUNCH)["purchase"]
    assert recorded["pointsEarned"] == personal["points"] == 308
    assert recorded["pointsPending"] == 308
    assert recorded["total"] == "50.80"
    entries = member.entries()
    assert sorted((e["kind"], e["points"]) for e in entries) == [("BONUS", 50), ("EARN", 258)]

    # The bonus is capped at 100 points a week: the preview for this member knows it.
    shop.buy(member, "till1-lunch-2", BIG_LUNCH)
    capped = preview(card)
    assert capped["points"] == 258 and [a["rule"] for a in capped["awards"]] == ["base"]
    assert preview(None)["points"] == 308
    third = shop.buy(member, "till1-lunch-3", BIG_LUNCH)["purchase"]
    assert third["pointsEarned"] == capped["points"]

    bad = shop.till.post(PREVIEW, {"input": {"lines": []}})
    assert codes(bad) == ["BAD_USER_INPUT"]
    unknown = shop.till.post(
        PREVIEW, {"input": {"lines": BIG_LUNCH, "member": {"memberNumber": "0000000000"}}}
    )
    assert codes(unknown) == ["BAD_USER_INPUT"]


# -- what the member sees as time passes ------------------------------------------------------


def _next_new_year(now: datetime) -> datetime:
    return datetime(now.astimezone(ZONE).year + 1, 1, 1, tzinfo=ZONE).astimezone(UTC)


def test_pending_points_become_available_and_warn_before_they_expire(shop: Shop) -> None:
    member = shop.member("tijd@example.com")
    start = shop.clock.now()
    shop.buy(member, "till1-1", CAPPUCCINOS_AND_CAKE)
    shop.buy(member, "till1-2", BIG_LUNCH)

    me = member.me()
    assert me["balance"] == {
        "available": 0,
        "pending": 461,
        "lifetimeEarned": 461,
        "expiringSoon": None,
    }
    assert me["tier"] == {
        "key": "brons",
        "name": "Brons",
        "benefits": ["Punten op elke aankoop"],
        "guaranteedUntil": None,
        "nextTier": {"name": "Zilver"},
        "progress": {
            "qualifyingPoints": 461,
            "pointsToNextTier": 2500 - 461,
            "periodEndsAt": me["tier"]["progress"]["periodEndsAt"],
        },
    }
    assert at(me["tier"]["progress"]["periodEndsAt"]) == _next_new_year(start)

    entries = member.entries()
    assert {at(e["availableAt"]) for e in entries} == {start + timedelta(days=14)}
    # Gone at the end of the 365th day after earning, in Amsterdam.
    expires = datetime.combine(
        start.astimezone(ZONE).date() + timedelta(days=366), datetime.min.time(), ZONE
    ).astimezone(UTC)
    assert {at(e["expiresAt"]) for e in entries} == {expires}

    shop.clock.set(start + timedelta(days=14) - timedelta(seconds=1))
    member.sign_in_again()
    assert member.me()["balance"]["pending"] == 461

    shop.clock.set(start + timedelta(days=14))
    member.sign_in_again()
    assert member.me()["balance"] == {
        "available": 461,
        "pending": 0,
        "lifetimeEarned": 461,
        "expiringSoon": None,
    }

    # The warning window is 30 days: nothing at 31 days before, all of it at 20 days before.
    shop.clock.set(expires - timedelta(days=31))
    member.sign_in_again()
    assert member.me()["balance"]["expiringSoon"] is None
    shop.clock.set(expires - timedelta(days=20))
    member.sign_in_again()
    soon = member.me()["balance"]
    assert soon["available"] == 461
    assert soon["expiringSoon"]["points"] == 461
    assert at(soon["expiringSoon"]["expiresAt"]) == expires

    shop.clock.set(expires)
    member.sign_in_again()
    gone = member.me()["balance"]
    assert gone["available"] == 0 and gone["expiringSoon"] is None
    assert gone["lifetimeEarned"] == 461


# -- the points history -----------------------------------------------------------------------


def test_transactions_page_newest_first(shop: Shop) -> None:
    member = shop.member("historie@example.com")
    for points in (10, 20, 30, 40, 50):
        shop.give(member, points, reason=f"Stap {points}")

    def page(first: int | None, after: str | None = None) -> dict[str, Any]:
        variables = {"first": first, "after": after}
        return dict(member.client.data(TRANSACTIONS, variables)["me"]["transactions"])

    seen: list[int] = []
    after = None
    pages = []
    while True:
        current = page(2, after)
        pages.append(current["pageInfo"])
        seen += [e["node"]["points"] for e in current["edges"]]
        assert current["pageInfo"]["startCursor"] == current["edges"][0]["cursor"]
        assert current["pageInfo"]["endCursor"] == current["edges"][-1]["cursor"]
        if not current["pageInfo"]["hasNextPage"]:
            break
        after = current["pageInfo"]["endCursor"]
    assert seen == [50, 40, 30, 20, 10]
    assert [(p["hasNextPage"], p["hasPreviousPage"]) for p in pages] == [
        (True, False),
        (True, True),
        (False, True),
    ]
    everything = page(None)
    assert [e["node"]["points"] for e in everything["edges"]] == seen
    assert everything["edges"][0]["node"]["kind"] == "ADJUST"
    assert everything["edges"][0]["node"]["description"] == "Adjusted: Stap 50"
    assert page(100)["pageInfo"]["hasNextPage"] is False

    for bad in [
        "garbage",
        cursor("redemptions:1"),
        cursor("transactions:abc"),
        cursor("transactions:1:2"),
        cursor("transactions:" + "9" * 30),
    ]:
        result = member.client.post(TRANSACTIONS, {"first": 2, "after": bad})
        assert codes(result) == ["BAD_USER_INPUT"], bad
    for first in (101, -1):
        result = member.client.post(TRANSACTIONS, {"first": first})
        assert codes(result) == ["BAD_USER_INPUT"], first


# -- nodes ------------------------------------------------------------------------------------


def test_nodes_are_visible_to_their_member_only(shop: Shop) -> None:
    ann = shop.member("ann@example.com")
    bob = shop.member("bob@example.com")
    purchase = shop.buy(ann, "till1-ann", CAPPUCCINOS_AND_CAKE)["purchase"]
    shop.give(ann, 500)
    redemption = shop.redeem(ann, "taart-korting", "tap-ann")
    entries = {e["kind"]: e for e in ann.entries()}
    reward_id = redemption["reward"]["id"]

    own = {
        entries["EARN"]["id"]: {"__typename": "PointsTransaction", "kind": "EARN", "points": 153},
        entries["SPEND"]["id"]: {
            "__typename": "PointsTransaction",
            "kind": "SPEND",
            "points": -200,
        },
        purchase["id"]: {
            "__typename": "Purchase",
            "externalId": "till1-ann",
            "pointsEarned": 153,
        },
        redemption["id"]: {
            "__typename": "Redemption",
            "code": redemption["code"],
            "status": "ISSUED",
        },
        reward_id: {"__typename": "Reward", "key": "taart-korting"},
    }
    for node_id, expected in own.items():
        assert ann.client.data(NODE, {"id": node_id})["node"] == {"id": node_id, **expected}
        # Another member and the till (which reaches members only by a card scan) see only
        # the public catalogue: no live redemption codes by id.
        seen_by_bob = bob.client.data(NODE, {"id": node_id})["node"]
        seen_by_till = shop.till.data(NODE, {"id": node_id})["node"]
        if expected["__typename"] == "Reward":
            assert seen_by_bob == seen_by_till == {"id": node_id, **expected}
        else:
            assert seen_by_bob is None, expected["__typename"]
            assert seen_by_till is None, expected["__typename"]
            assert shop.server.client().data(NODE, {"id": node_id})["node"] is None

    for kind in ("PointsTransaction", "Purchase", "Redemption", "Reward"):
        for raw in ("999999", "0", "abc"):
            assert ann.client.data(NODE, {"id": gid(f"{kind}:{raw}")})["node"] is None


# -- cancelling a reward ----------------------------------------------------------------------


def test_cancelling_a_redemption_gives_the_points_back_and_voids_the_code(shop: Shop) -> None:
    ann = shop.member("annuleer@example.com")
    bob = shop.member("bemoei@example.com")
    shop.give(ann, 1000)
    first = shop.redeem(ann, "gratis-koffie", "koffie-1")
    second = shop.redeem(ann, "gratis-koffie", "koffie-2")
    assert ann.me()["balance"]["available"] == 400
    # A retried tap is the same redemption; its key cannot be reused for another reward.
    assert shop.redeem(ann, "gratis-koffie", "koffie-1") == first
    reused = ann.client.data(
        REDEEM, {"input": {"rewardId": shop.reward("taart-korting"), "idempotencyKey": "koffie-1"}}
    )["redeemReward"]
    assert [(e["field"], e["code"]) for e in reused["userErrors"]] == [
        (["input", "idempotencyKey"], "IDEMPOTENCY_CONFLICT")
    ]
    # Two coffees a month: the limit is reached.
    limited = ann.client.data(
        REDEEM, {"input": {"rewardId": shop.reward("gratis-koffie"), "idempotencyKey": "k-3"}}
    )["redeemReward"]
    assert limited["userErrors"][0]["code"] == "LIMIT_REACHED"

    # Someone else's redemption does not exist as far as Bob can tell.
    meddle = bob.client.data(CANCEL, {"input": {"redemptionId": first["id"]}})["cancelRedemption"]
    assert meddle == {
        "redemption": None,
        "balance": None,
        "userErrors": [
            {
                "field": ["input", "redemptionId"],
                "message": "Redemption not found",
                "code": "NOT_FOUND",
            }
        ],
    }
    missing = ann.client.data(CANCEL, {"input": {"redemptionId": gid("Redemption:999999")}})
    assert missing["cancelRedemption"]["userErrors"][0]["code"] == "NOT_FOUND"

    cancelled = ann.client.data(CANCEL, {"input": {"redemptionId": first["id"]}})[
        "cancelRedemption"
    ]
    assert cancelled["userErrors"] == []
    assert cancelled["redemption"]["status"] == "CANCELLED"
    assert at(cancelled["redemption"]["cancelledAt"]) == shop.clock.now()
    assert cancelled["balance"] == {"available": 700}
    (refund,) = ann.entries(1)
    assert (refund["kind"], refund["points"]) == ("REFUND", 300)
    assert refund["description"] == "Reward cancelled: points back"
    statuses = {
        e["node"]["id"]: e["node"]["status"]
        for e in ann.client.data(REDEMPTIONS)["me"]["redemptions"]["edges"]
    }
    assert statuses == {first["id"]: "CANCELLED", second["id"]: "ISSUED"}

    # The code no longer works at the till, and it cannot be cancelled twice.
    voided = shop.till.data(REDEEM_CODE, {"input": {"code": first["code"]}})["redeemCode"]
    assert voided == {
        "redemption": None,
        "userErrors": [
            {
                "field": ["input", "code"],
                "message": "This code was cancelled",
                "code": "CODE_CANCELLED",
            }
        ],
    }
    again = ann.client.data(CANCEL, {"input": {"redemptionId": first["id"]}})["cancelRedemption"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_CANCELLABLE"]
    assert ann.me()["balance"]["available"] == 700

    # The cancelled one no longer counts towards the monthly limit.
    third = shop.redeem(ann, "gratis-koffie", "koffie-3")
    assert third["status"] == "ISSUED"

    # A code taken at the till cannot be given back.
    taken = shop.till.data(REDEEM_CODE, {"input": {"code": second["code"]}})["redeemCode"]
    assert taken["userErrors"] == [] and taken["redemption"]["status"] == "REDEEMED"
    late = ann.client.data(CANCEL, {"input": {"redemptionId": second["id"]}})["cancelRedemption"]
    assert [e["code"] for e in late["userErrors"]] == ["NOT_CANCELLABLE"]
    assert ann.me()["balance"]["available"] == 400


# -- the programme's liability ----------------------------------------------------------------


def test_liability_counts_outstanding_points_and_their_value(shop: Shop) -> None:
    def liability() -> dict[str, Any]:
        return dict(shop.office.data(LIABILITY)["liability"])

    assert liability() == {
        "currency": "EUR",
        "pointValue": "0.01",
        "availablePoints": 0,
        "pendingPoints": 0,
        "outstandingPoints": 0,
        "value": "0.00",
    }
    ann = shop.member("schuld-ann@example.com")
    bob = shop.member("schuld-bob@example.com")
    shop.give(ann, 500)
    shop.redeem(ann, "taart-korting", "tap-1")  # 200 spent: no longer owed
    shop.buy(ann, "till1-1", CAPPUCCINOS_AND_CAKE)  # 153 pending
    shop.give(bob, 1000)

    assert liability() == {
        "currency": "EUR",
        "pointValue": "0.01",
        "availablePoints": 1300,
        "pendingPoints": 153,
        "outstandingPoints": 1453,
        "value": "14.53",
    }
    # The same figures as the members' own balances add up to.
    balances = [e["node"]["balance"] for e in shop.office.data(MEMBERS)["members"]["edges"]]
    assert sum(b["available"] for b in balances) == 1300
    assert sum(b["pending"] for b in balances) == 153

    shop.clock.advance(timedelta(days=14))
    moved = liability()
    assert (moved["availablePoints"], moved["pendingPoints"]) == (1453, 0)
    assert moved["value"] == "14.53"


# -- a tier set by staff ----------------------------------------------------------------------


def test_a_tier_set_by_staff_is_a_floor_until_its_date(shop: Shop) -> None:
    member = shop.member("goud@example.com")
    until = (shop.clock.now() + timedelta(days=30)).replace(microsecond=0)
    payload = shop.office.data(
        SET_TIER,
        {
            "input": {
                "member": {"memberNumber": member.number},
                "tier": "goud",
                "until": until.isoformat(),
            }
        },
    )["setMemberTier"]
    assert payload["userErrors"] == []
    assert payload["tier"]["name"] == "Goud" and at(payload["tier"]["guaranteedUntil"]) == until

    tier = member.me()["tier"]
    assert tier["key"] == "goud" and tier["name"] == "Goud"
    assert tier["benefits"] == ["25% extra punten", "Voorrang bij proeverijen"]
    assert tier["nextTier"] is None and tier["progress"]["pointsToNextTier"] is None
    assert at(tier["guaranteedUntil"]) == until
    # Gold earns 25% extra on a purchase, and may now book the barista workshop.
    assert shop.buy(member, "till1-goud", CAPPUCCINOS_AND_CAKE)["purchase"]["pointsEarned"] == 191
    workshop = next(
        e["node"]
        for e in member.client.data(REWARDS)["rewards"]["edges"]
        if e["node"]["key"] == "barista-workshop"
    )
    assert workshop["available"] is True

    # Without a date the floor holds until changed.
    forever = shop.office.data(
        SET_TIER, {"input": {"member": {"id": member.id}, "tier": "zilver"}}
    )["setMemberTier"]
    assert forever["tier"]["name"] == "Zilver" and forever["tier"]["guaranteedUntil"] is None
    assert member.me()["tier"]["name"] == "Zilver"

    shop.office.data(
        SET_TIER,
        {"input": {"member": {"id": member.id}, "tier": "goud", "until": until.isoformat()}},
    )
    shop.clock.set(until)
    member.sign_in_again()
    after = member.me()["tier"]
    assert after["name"] == "Brons" and after["guaranteedUntil"] is None


# -- the home screen --------------------------------------------------------------------------

HOME_PARTS = ("id", "memberNumber", "firstName", "tier", "balance", "card")


def home_now() -> str:
    """The contract's Home query with only the `me` selections that are served so far
    (offers, surveys and the inbox come later), taken from the file as written."""
    document = parse(contract("member-app/home.graphql"))
    (operation,) = document.definitions
    assert isinstance(operation, OperationDefinitionNode)
    (me,) = operation.selection_set.selections
    assert isinstance(me, FieldNode) and me.name.value == "me" and me.selection_set
    kept = tuple(
        s
        for s in me.selection_set.selections
        if isinstance(s, FieldNode) and s.name.value in HOME_PARTS
    )
    assert [s.name.value for s in kept] == list(HOME_PARTS)
    fields = " ".join(print_ast(s) for s in kept)
    return print_ast(parse(f"query Home {{ me {{ {fields} }} }}"))


def test_the_home_screen_shows_balance_tier_and_card(shop: Shop) -> None:
    member = shop.member("thuis@example.com", firstName="Noor")
    start = shop.clock.now()
    shop.buy(member, "till1-home", CAPPUCCINOS_AND_CAKE)
    shop.give(member, 250, reason="Excuses")

    home = member.client.data(home_now(), operation_name="Home")["me"]
    assert home == {
        "id": member.id,
        "memberNumber": member.number,
        "firstName": "Noor",
        "tier": {
            "name": "Brons",
            "benefits": ["Punten op elke aankoop"],
            "nextTier": {"name": "Zilver"},
            "progress": {
                "qualifyingPoints": 153,  # a staff adjustment does not count towards a tier
                "pointsToNextTier": 2500 - 153,
                "periodEndsAt": home["tier"]["progress"]["periodEndsAt"],
            },
        },
        "balance": {
            "available": 250,
            "pending": 153,
            "lifetimeEarned": 153,
            "expiringSoon": None,
        },
        "card": {"barcodeFormat": "QR", "barcodeMessage": member.barcode},
    }
    assert at(home["tier"]["progress"]["periodEndsAt"]) == _next_new_year(start)
    assert len(member.number) == 10 and member.number.isdigit()
    found = shop.till.data(BY_CARD, {"barcode": member.barcode})["memberByCard"]
    assert found == {"id": member.id}


RETURN_SPLIT = """
mutation RecordReturn($input: RecordReturnInput!) {
  recordReturn(input: $input) {
    pointsReversed pointsWaived
    purchase { pointsEarned pointsReversed pointsWaived }
    userErrors { code }
  }
}"""


def test_a_return_reports_what_it_took_and_what_it_waived(shop: Shop) -> None:
    anna = shop.member("anna-waived@example.com")
    earned = shop.buy(anna, "w-1", [{"sku": "A", "quantity": "1", "unitPrice": "20.00"}])
    points = earned["purchase"]["pointsEarned"]
    shop.clock.advance(timedelta(days=14))
    # The member spends all but 10 of the purchase's points, then returns it.
    shop.give(anna, -(points - 10), "Spent at the counter")
    returned = shop.till.data(
        RETURN_SPLIT,
        {"input": {"purchaseExternalId": "w-1", "externalId": "w-r1", "amount": "20.00"}},
    )["recordReturn"]
    assert returned["userErrors"] == []
    assert (returned["pointsReversed"], returned["pointsWaived"]) == (10, points - 10)
    assert returned["purchase"] == {
        "pointsEarned": points,
        "pointsReversed": 10,
        "pointsWaived": points - 10,
    }
