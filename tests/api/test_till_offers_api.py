"""Offers at the till over real HTTP: the contract's RecordPurchase as written (points include
the offers), the purchase's `offersApplied`, the preview giving the same, coupon codes through
the contract's RedeemCode, and refusals as userErrors."""

from __future__ import annotations

from typing import Any

from loyalty.core.clock import FixedClock
from tests.contract.operations import operation
from tests.loyalty.offers.test_coupons import COUPONS
from tests.support.data import api_key, install
from tests.support.flows import sign_up
from tests.support.server import GraphQLClient, ServerHandle

RECORD = operation("pos/pos.graphql", "RecordPurchase")
REDEEM_CODE = operation("pos/pos.graphql", "RedeemCode")
APPLIED = """
query($id: ID!) { node(id: $id) { ... on Purchase {
  pointsEarned offersApplied { offerId offerKey title points pointsReversed discount explanation }
} } }"""
PREVIEW = """
query($input: PurchasePreviewInput!) { purchasePreview(input: $input) {
  points discount offersApplied { offerKey points discount explanation }
} }"""
REDEEM_OFFER = """
mutation($input: RedeemCodeInput!) { redeemCode(input: $input) {
  redemption { id } offerRedemption { code status offerKey kind usesLeft }
  userErrors { field code }
} }"""
LINES = [
    {"sku": "latte", "category": "koffie", "quantity": "1", "unitPrice": "4.00"},
    {"sku": "taart", "category": "gebak", "quantity": "1", "unitPrice": "3.50"},
]


def _setup(server: ServerHandle, database: str, clock: FixedClock) -> tuple[GraphQLClient, str]:
    install(database, COUPONS)
    till = server.client(api_key(database, ["pos"], clock.now(), "Till 1"))
    app = server.client()
    app.token = sign_up(app, "till-offers@example.com")["session"]["accessToken"]
    barcode = app.data("{ me { card { barcodeMessage } } }")["me"]["card"]["barcodeMessage"]
    return till, barcode


def _errors(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def test_record_purchase_as_written_gets_and_explains_its_offers(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    till, barcode = _setup(server, clean_database, server_clock)
    member = {"barcodeMessage": barcode}
    preview = till.data(PREVIEW, {"input": {"member": member, "lines": LINES}})
    sale = {"input": {"member": member, "externalId": "t-1", "lines": LINES}}
    recorded = till.data(RECORD, sale)["recordPurchase"]
    assert recorded["userErrors"] == []
    assert recorded["purchase"]["pointsEarned"] == 235  # 75 + 120 (best) + 40 (x2 coffee)
    assert recorded["member"]["balance"]["available"] == 235
    again = till.data(RECORD, sale)["recordPurchase"]
    assert again["member"]["balance"]["available"] == 235

    # A till reads no purchase by its id (docs/security.md); the back office does.
    assert till.data(APPLIED, {"id": recorded["purchase"]["id"]})["node"] is None
    office = server.client(api_key(clean_database, ["admin"], server_clock.now(), "Office"))
    node = office.data(APPLIED, {"id": recorded["purchase"]["id"]})["node"]
    applied = {a["offerKey"]: a for a in node["offersApplied"]}
    assert set(applied) == {"honderd-twintig", "koffie-dubbel", "gebak-korting"}
    assert applied["honderd-twintig"]["explanation"] == (
        "honderd-twintig: best in group weekend: 120 points beats 80 points (tachtig)"
    )
    assert applied["gebak-korting"]["discount"] == "1.00"

    shown = preview["purchasePreview"]
    assert shown["points"] == 235 and shown["discount"] == "1.00"
    assert {a["offerKey"]: a["explanation"] for a in shown["offersApplied"]} == {
        key: a["explanation"] for key, a in applied.items()
    }


def test_coupon_codes_through_redeem_code(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    till, barcode = _setup(server, clean_database, server_clock)
    member = {"barcodeMessage": barcode}
    # The contract's operation as written: a shared code needs the member.
    bare = till.data(REDEEM_CODE, {"input": {"code": "TAART2"}})["redeemCode"]
    assert bare["redemption"] is None and _errors(bare) == ["COUPON_MEMBER_REQUIRED"]
    taken = till.data(REDEEM_OFFER, {"input": {"code": "taart2", "member": member}})
    assert taken["redeemCode"]["userErrors"] == []
    assert taken["redeemCode"]["redemption"] is None
    assert taken["redeemCode"]["offerRedemption"] == {
        "code": "TAART2",
        "status": "REDEEMED",
        "offerKey": "taart-code",
        "kind": "amount_off",
        "usesLeft": 0,
    }
    twice = till.data(REDEEM_OFFER, {"input": {"code": "TAART2", "member": member}})
    assert _errors(twice["redeemCode"]) == ["OFFER_USED_UP"]
    expired = till.data(REDEEM_OFFER, {"input": {"code": "OUD1", "member": member}})
    assert _errors(expired["redeemCode"]) == ["OFFER_EXPIRED"]
    unknown = till.data(REDEEM_CODE, {"input": {"code": "GEEN-CODE"}})["redeemCode"]
    assert _errors(unknown) == ["CODE_NOT_FOUND"]  # as for an unknown reward code
