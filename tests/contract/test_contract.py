"""Every client operation in shared/contract/ against the schema, and the served ones against
a running server, exactly as written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from graphql import NoUnusedFragmentsRule, specified_rules, validate

from api.schema import build_schema
from tests.conftest import CONTRACT_DIR, make_settings
from tests.contract.operations import SERVED, Operation, load_operations, operation
from tests.support.data import api_key, install
from tests.support.flows import sign_up
from tests.support.server import GraphQLClient, ServerHandle

OPERATIONS = load_operations()
# Fragments are shared by all operations of a file; one operation alone may not use them all.
RULES = [rule for rule in specified_rules if rule is not NoUnusedFragmentsRule]


def test_contract_is_present() -> None:
    assert CONTRACT_DIR.is_dir(), f"contract operations not found at {CONTRACT_DIR}"
    assert OPERATIONS, "no operations found in the contract"


def test_served_list_names_real_operations() -> None:
    known = {(op.file, op.name) for op in OPERATIONS}
    for file, names in SERVED.items():
        for name in names:
            assert (file, name) in known, f"{file}: {name} is listed as served but not in the file"


def _validation_errors(op: Operation) -> list[str]:
    schema = build_schema(make_settings("sqlite+aiosqlite:///:memory:"))
    return [e.message for e in validate(schema._schema, op.document, RULES)]


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(
            op,
            id=f"{op.file}:{op.name}",
            marks=[] if op.served else [pytest.mark.xfail(strict=True, reason="not served yet")],
        )
        for op in OPERATIONS
    ],
)
def test_operation_validates_against_the_schema(op: Operation) -> None:
    assert _validation_errors(op) == []


AUTH = "member-app/auth.graphql"
PROFILE = "member-app/profile.graphql"
PASSWORD = "zonnebloem-kapstok-93"


def _run(client: GraphQLClient, file: str, name: str, ran: set[tuple[str, str]], **kw: object):  # type: ignore[no-untyped-def]
    ran.add((file, name))
    return client.data(operation(file, name), **kw)  # type: ignore[arg-type]


def test_member_journey_runs_the_contract_as_written(server: ServerHandle) -> None:
    """SignUp → SignIn → Profile → UpdateProfile → SetConsent → RefreshSession → SignOut."""
    client = server.client()
    ran: set[tuple[str, str]] = set()

    signed_up = _run(
        client,
        AUTH,
        "SignUp",
        ran,
        variables={
            "input": {
                "email": "journey@example.com",
                "password": PASSWORD,
                "firstName": "Noor",
                "consents": [{"channel": "EMAIL", "granted": True}],
            }
        },
    )["signUp"]
    assert signed_up["userErrors"] == []
    assert len(signed_up["member"]["memberNumber"]) == 10

    session = _run(
        client,
        AUTH,
        "SignIn",
        ran,
        variables={
            "input": {
                "email": "journey@example.com",
                "password": PASSWORD,
            }
        },
    )["signIn"]["session"]
    token = session["accessToken"]

    profile = _run(client, PROFILE, "Profile", ran, token=token)["me"]
    assert profile["id"] == signed_up["member"]["id"]
    assert profile["firstName"] == "Noor"
    consents = {c["channel"]: c["granted"] for c in profile["consents"]}
    assert consents == {
        "EMAIL": True,
        "SMS": False,
        "PUSH": False,
        "IN_APP": False,
        "PERSONALISATION": False,
    }

    updated = _run(
        client,
        PROFILE,
        "UpdateProfile",
        ran,
        token=token,
        variables={
            "input": {
                "lastName": "Visser",
                "phone": "06 12345678",
                "interests": ["Koffie", "koffie", "Lunch"],
                "preferredChannel": "PUSH",
                "birthDate": "1994-02-17",
                "locale": "nl-NL",
            }
        },
    )["updateProfile"]
    assert updated["userErrors"] == []
    assert updated["member"]["phone"] == "+31612345678"
    assert updated["member"]["interests"] == ["koffie", "lunch"]
    assert updated["member"]["firstName"] == "Noor"

    consent = _run(
        client,
        PROFILE,
        "SetConsent",
        ran,
        token=token,
        variables={
            "input": {
                "channel": "PUSH",
                "granted": True,
            }
        },
    )["setConsent"]
    assert consent["userErrors"] == [] and consent["consent"]["granted"] is True

    refreshed = _run(
        client,
        AUTH,
        "RefreshSession",
        ran,
        variables={
            "input": {
                "refreshToken": session["refreshToken"],
            }
        },
    )["refreshSession"]
    assert refreshed["userErrors"] == []
    new_token = refreshed["session"]["accessToken"]

    out = _run(client, AUTH, "SignOut", ran, token=new_token, variables={"input": {}})["signOut"]
    assert out["userErrors"] == []
    assert client.error_codes("{ me { id } }", token=new_token) == ["SESSION_REVOKED"]

    assert ran == MEMBER_JOURNEY


MEMBER_JOURNEY = {(AUTH, n) for n in ("SignUp", "SignIn", "RefreshSession", "SignOut")} | {
    (PROFILE, n) for n in ("Profile", "UpdateProfile", "SetConsent")
}
POINTS, POS = "member-app/points.graphql", "pos/pos.graphql"
TILL_JOURNEY = {(POINTS, n) for n in ("Transactions", "Rewards", "RedeemReward")} | {
    (POS, n)
    for n in (
        "LookupMember",
        "RecordPurchase",
        "RecordReturn",
        "RecordEvent",
        "RedeemCode",
        "AdjustPoints",
    )
}


LIVE = {("member-app/live.graphql", n) for n in ("OnBalanceChanged", "OnOffersChanged")}
INBOX = {("member-app/referral-wallet-inbox.graphql", n) for n in ("Inbox", "MarkMessageRead")}
WALLET = {("member-app/referral-wallet-inbox.graphql", "WalletPass")}
OFFERS = {("member-app/offers.graphql", n) for n in ("Offers", "ActivateOffer")}
ADMIN_OFFERS = {
    ("admin/offers-segments.graphql", n)
    for n in ("CreateOffer", "UpdateOffer", "PauseOffer", "MemberOffers")
}
SEGMENTS = {
    ("admin/offers-segments.graphql", n) for n in ("Segments", "SegmentMembers", "MemberInsight")
}
SURVEYS = {("member-app/surveys.graphql", n) for n in ("Surveys", "StartSurvey", "AnswerSurvey")}
SURVEYS |= {
    ("admin/surveys-referrals.graphql", "SurveyResults"),
    ("member-app/home.graphql", "Home"),
}
# Run as written by tests/api/test_referrals_api.py.
REFERRALS = {("member-app/referral-wallet-inbox.graphql", "Referral")} | {
    ("admin/surveys-referrals.graphql", n) for n in ("HeldReferrals", "ReviewReferral")
}
# Run as written by tests/api/test_privacy_api.py.
PRIVACY = {
    ("member-app/privacy.graphql", n)
    for n in ("RequestDataExport", "DeleteAccount", "CancelAccountDeletion")
} | {("admin/privacy-audit.graphql", n) for n in ("ExportMemberData", "EraseMember")}
CAMPAIGNS = {
    ("admin/campaigns.graphql", n)
    for n in ("Campaigns", "CampaignDryRun", "CampaignReport", "MemberJourneys")
}
# Exercised by tests/api/test_audit_api.py.
AUDIT = {("admin/privacy-audit.graphql", "AuditLog")}


def test_the_journeys_exercise_every_served_operation() -> None:
    served = {(file, name) for file, names in SERVED.items() for name in names}
    assert served == (
        MEMBER_JOURNEY
        | TILL_JOURNEY
        | LIVE
        | INBOX
        | WALLET
        | OFFERS
        | ADMIN_OFFERS
        | CAMPAIGNS
        | SEGMENTS
        | SURVEYS
        | REFERRALS
        | PRIVACY
        | AUDIT
    )


def test_till_journey_runs_the_contract_as_written(
    server: ServerHandle, clean_database: str
) -> None:
    """A member shops, the till records it, the member redeems a reward, the till takes the
    code, goods come back, a review earns points, staff correct the balance."""
    install(clean_database)
    now = datetime.now(UTC)
    till = server.client(api_key(clean_database, ["pos"], now, "Till 1"))
    office = server.client(api_key(clean_database, ["admin"], now, "Back office"))
    app = server.client()
    ran: set[tuple[str, str]] = set()

    token = sign_up(app, "till@example.com", password=PASSWORD)["session"]["accessToken"]
    app.token = token
    barcode = app.data("{ me { card { barcodeMessage } } }")["me"]["card"]["barcodeMessage"]

    found = _run(till, POS, "LookupMember", ran, variables={"barcodeMessage": barcode})
    member = found["memberByCard"]
    assert member["tier"]["name"] == "Brons" and member["balance"]["available"] == 0

    sale = {
        "input": {
            "member": {"barcodeMessage": barcode},
            "externalId": "till1-000042",
            "lines": [
                {"sku": "KOF-CAP", "category": "koffie", "quantity": "2", "unitPrice": "3.40"},
                {"sku": "BON-25", "category": "cadeaubon", "quantity": "1", "unitPrice": "25.00"},
                {"sku": "TAA-APL", "category": "gebak", "quantity": "2", "unitPrice": "4.25"},
            ],
        }
    }
    recorded = _run(till, POS, "RecordPurchase", ran, variables=sale)["recordPurchase"]
    assert recorded["userErrors"] == []
    # 10 points per euro on €15.30 (the gift card earns nothing); pending for 14 days.
    assert recorded["purchase"]["pointsEarned"] == 153
    assert recorded["purchase"]["pointsPending"] == 153
    assert recorded["member"]["balance"] == {"available": 0, "pending": 153}
    again = _run(till, POS, "RecordPurchase", ran, variables=sale)["recordPurchase"]
    assert again["purchase"]["id"] == recorded["purchase"]["id"]
    assert again["member"]["balance"]["pending"] == 153

    adjusted = _run(
        office,
        POS,
        "AdjustPoints",
        ran,
        variables={
            "input": {
                "member": {"id": member["id"]},
                "points": 500,
                "reason": "Excuses voor de wachttijd",
            }
        },
    )["adjustPoints"]
    assert adjusted["userErrors"] == [] and adjusted["entry"]["kind"] == "ADJUST"
    assert adjusted["member"]["balance"]["available"] == 500

    history = _run(app, POINTS, "Transactions", ran, variables={"first": 10})["me"]
    kinds = [e["node"]["kind"] for e in history["transactions"]["edges"]]
    assert kinds == ["ADJUST", "EARN"]

    rewards = _run(app, POINTS, "Rewards", ran, variables={"first": 10})["rewards"]["edges"]
    by_name = {r["node"]["name"]: r["node"] for r in rewards}
    coffee = by_name["Gratis koffie naar keuze"]
    assert coffee["affordable"] and coffee["available"] and coffee["pointsCost"] == 300
    assert not by_name["Barista-workshop"]["available"]  # silver and gold only

    redeemed = _run(
        app,
        POINTS,
        "RedeemReward",
        ran,
        variables={"input": {"rewardId": coffee["id"], "idempotencyKey": "tap-1"}},
    )["redeemReward"]
    assert redeemed["userErrors"] == [] and redeemed["balance"]["available"] == 200
    code = redeemed["redemption"]["code"]
    mine = app.data(
        "{ me { redemptions(first: 5) { edges { node { code reward { available affordable } } } } }"
        " }"
    )["me"]["redemptions"]["edges"]
    # As the member sees it now: one of two this month left, but 200 points no longer afford it.
    assert mine == [{"node": {"code": code, "reward": {"available": True, "affordable": False}}}]

    taken = _run(till, POS, "RedeemCode", ran, variables={"input": {"code": code}})["redeemCode"]
    assert taken["userErrors"] == [] and taken["redemption"]["status"] == "REDEEMED"
    twice = till.data(operation(POS, "RedeemCode"), variables={"input": {"code": code}})
    assert twice["redeemCode"]["userErrors"][0]["code"] == "CODE_ALREADY_USED"

    returned = _run(
        till,
        POS,
        "RecordReturn",
        ran,
        variables={
            "input": {
                "purchaseExternalId": "till1-000042",
                "externalId": "till1-r-7",
                "lines": [{"sku": "TAA-APL", "quantity": "1"}],
            }
        },
    )["recordReturn"]
    # €4.25 of €15.30 eligible came back: round(153 * 4.25 / 15.30) = 43, from the pending points.
    assert returned["userErrors"] == [] and returned["pointsReversed"] == 43
    assert returned["member"]["balance"] == {"available": 200, "pending": 110}

    review = _run(
        till,
        POS,
        "RecordEvent",
        ran,
        variables={
            "input": {
                "member": {"barcodeMessage": barcode},
                "externalId": "review-981",
                "name": "review_written",
            }
        },
    )["recordEvent"]
    assert review["userErrors"] == [] and review["pointsAwarded"] == 25

    assert ran == TILL_JOURNEY


def test_joining_and_completing_the_profile_earn_the_programme_bonuses(
    server: ServerHandle, clean_database: str
) -> None:
    """The demo programme rewards sign-up (100) and a complete profile (50), once each."""
    install(clean_database, joining_bonuses=True)
    app = server.client()
    app.token = sign_up(app, "bonus@example.com", password=PASSWORD)["session"]["accessToken"]
    balance = "{ me { balance { available lifetimeEarned } } }"
    assert app.data(balance)["me"]["balance"] == {"available": 100, "lifetimeEarned": 100}
    profile = {
        "firstName": "Sam",
        "lastName": "de Boer",
        "birthDate": "1990-01-02",
        "phone": "0612345678",
    }
    for _ in range(2):
        payload = app.data(operation(PROFILE, "UpdateProfile"), variables={"input": profile})
        assert payload["updateProfile"]["userErrors"] == []
    assert app.data(balance)["me"]["balance"] == {"available": 150, "lifetimeEarned": 150}
