"""Every client operation in shared/contract/ against the schema, and the served ones against
a running server, exactly as written."""

from __future__ import annotations

import pytest
from graphql import NoUnusedFragmentsRule, specified_rules, validate

from api.schema import build_schema
from tests.conftest import CONTRACT_DIR, test_settings
from tests.contract.operations import SERVED, Operation, load_operations, operation
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
    schema = build_schema(test_settings("sqlite+aiosqlite:///:memory:"))
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

    served = {(file, name) for file, names in SERVED.items() for name in names}
    assert served <= ran, f"served operations not exercised: {sorted(served - ran)}"
