"""The profile screen over real HTTP: the contract's Profile, UpdateProfile and SetConsent."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from loyalty.core.clock import FixedClock
from tests.api.helpers import api_key, contract
from tests.support.flows import sign_up
from tests.support.server import GraphQLClient, ServerHandle

PROFILE = contract("member-app/profile.graphql")
ALL_CHANNELS = ["EMAIL", "IN_APP", "PERSONALISATION", "PUSH", "SMS"]


def profile(client: GraphQLClient, token: str) -> dict[str, Any]:
    return dict(client.data(PROFILE, operation_name="Profile", token=token)["me"])


def update(client: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    payload = client.data(PROFILE, {"input": fields}, operation_name="UpdateProfile", token=token)[
        "updateProfile"
    ]
    return dict(payload)


def set_consent(client: GraphQLClient, token: str, channel: str, granted: bool) -> dict[str, Any]:
    payload = client.data(
        PROFILE,
        {"input": {"channel": channel, "granted": granted}},
        operation_name="SetConsent",
        token=token,
    )["setConsent"]
    return dict(payload)


def consents(me: dict[str, Any]) -> dict[str, bool]:
    return {c["channel"]: c["granted"] for c in me["consents"]}


@pytest.fixture
def member(server: ServerHandle) -> tuple[GraphQLClient, str, dict[str, Any]]:
    client = server.client()
    result = sign_up(
        client,
        "eva@example.com",
        firstName="Eva",
        lastName="Jansen",
        birthDate="1990-05-17",
        phone="+31612345678",
        locale="nl-NL",
        preferredChannel="EMAIL",
        interests=["koffie"],
        consents=[{"channel": "EMAIL", "granted": True}],
    )
    return client, result["session"]["accessToken"], result["member"]


def test_profile_query_answers_every_contract_field(
    server: ServerHandle, server_clock: FixedClock, member: Any
) -> None:
    client, token, signed_up = member
    me = profile(client, token)
    assert me == {
        "id": signed_up["id"],
        "memberNumber": signed_up["memberNumber"],
        "email": "eva@example.com",
        "phone": "+31612345678",
        "firstName": "Eva",
        "lastName": "Jansen",
        "birthDate": "1990-05-17",
        "locale": "nl-NL",
        "preferredChannel": "EMAIL",
        "interests": ["koffie"],
        "joinedAt": me["joinedAt"],
        "consents": me["consents"],
    }
    assert datetime.fromisoformat(me["joinedAt"]) == server_clock.now()
    # One answer per channel, those not given at sign-up refused, all as of joining.
    assert [c["channel"] for c in me["consents"]] == ALL_CHANNELS
    assert consents(me) == {c: c == "EMAIL" for c in ALL_CHANNELS}
    assert {datetime.fromisoformat(c["updatedAt"]) for c in me["consents"]} == {server_clock.now()}


def test_update_changes_only_the_fields_sent(member: Any) -> None:
    client, token, _ = member
    payload = update(client, token, lastName="de Vries")
    assert payload["userErrors"] == []
    assert payload["member"]["lastName"] == "de Vries"
    me = profile(client, token)
    assert me["lastName"] == "de Vries"
    assert (me["firstName"], me["birthDate"], me["phone"]) == ("Eva", "1990-05-17", "+31612345678")
    assert (me["locale"], me["preferredChannel"], me["interests"]) == ("nl-NL", "EMAIL", ["koffie"])


def test_update_normalises_what_it_stores(member: Any) -> None:
    client, token, _ = member
    payload = update(
        client,
        token,
        firstName="  Anna   Maria ",
        birthDate="2001-02-03",
        phone="06 87654321",
        locale="en_GB",
        preferredChannel="SMS",
        interests=["Koffie", " koffie", "Fietsen"],
    )
    assert payload["userErrors"] == []
    expected = {
        "firstName": "Anna Maria",
        "lastName": "Jansen",
        "birthDate": "2001-02-03",
        "phone": "+31687654321",
        "locale": "en-GB",
        "preferredChannel": "SMS",
        "interests": ["koffie", "fietsen"],
    }
    assert {k: payload["member"][k] for k in expected} == expected
    me = profile(client, token)
    assert {k: me[k] for k in expected} == expected


def test_null_clears_a_field(member: Any) -> None:
    client, token, _ = member
    payload = update(
        client,
        token,
        firstName=None,
        lastName=None,
        birthDate=None,
        phone=None,
        locale=None,
        preferredChannel=None,
        interests=None,
    )
    assert payload["userErrors"] == []
    me = profile(client, token)
    for name in ("firstName", "lastName", "birthDate", "phone", "locale", "preferredChannel"):
        assert me[name] is None, name
    assert me["interests"] == []
    assert me["email"] == "eva@example.com"


INVALID = [
    ("birthDate", "2999-01-01", "INVALID_BIRTH_DATE"),
    ("birthDate", "1899-12-31", "INVALID_BIRTH_DATE"),
    ("phone", "12", "INVALID_PHONE"),
    ("phone", "+31 6 1234", "INVALID_PHONE"),
    ("locale", "nederlands", "INVALID_LOCALE"),
    ("interests", ["<script>"], "INVALID_INTEREST"),
    ("interests", [f"interest {i}" for i in range(31)], "INVALID_INTEREST"),
    ("firstName", "x" * 101, "INVALID_NAME"),
    ("lastName", "y" * 101, "INVALID_NAME"),
    ("timeZone", "Mars/Olympus_Mons", "INVALID_TIME_ZONE"),
    ("timeZone", "../../etc/passwd", "INVALID_TIME_ZONE"),
]


def test_an_invalid_value_is_a_user_error_on_its_field(member: Any) -> None:
    client, token, _ = member
    before = profile(client, token)
    for field, value, code in INVALID:
        payload = update(client, token, **{field: value})
        assert payload["member"] is None
        found = [(e["code"], e["field"]) for e in payload["userErrors"]]
        assert found == [(code, ["input", field])], (field, value)
        assert payload["userErrors"][0]["message"]
    assert profile(client, token) == before


def test_a_birth_date_tomorrow_is_refused_today_is_fine(
    member: Any, server_clock: FixedClock
) -> None:
    client, token, _ = member
    today = server_clock.now().date()
    tomorrow = update(client, token, birthDate=(today + timedelta(days=1)).isoformat())
    assert [e["code"] for e in tomorrow["userErrors"]] == ["INVALID_BIRTH_DATE"]
    ok = update(client, token, birthDate=today.isoformat())
    assert ok["userErrors"] == []
    assert date.fromisoformat(ok["member"]["birthDate"]) == today


def test_every_problem_is_reported_and_nothing_changes(member: Any) -> None:
    client, token, _ = member
    before = profile(client, token)
    payload = update(
        client,
        token,
        firstName="Valid",  # a valid change, which must not be applied either
        birthDate="2999-01-01",
        phone="12",
        locale="nederlands",
        interests=["<script>"],
    )
    assert payload["member"] is None
    assert sorted((e["field"][1], e["code"]) for e in payload["userErrors"]) == [
        ("birthDate", "INVALID_BIRTH_DATE"),
        ("interests", "INVALID_INTEREST"),
        ("locale", "INVALID_LOCALE"),
        ("phone", "INVALID_PHONE"),
    ]
    assert all(e["field"][0] == "input" for e in payload["userErrors"])
    assert profile(client, token) == before


def test_set_consent_flips_and_stamps_the_moment(
    server: ServerHandle, server_clock: FixedClock, member: Any
) -> None:
    client, token, _ = member
    joined = server_clock.now()

    server_clock.advance(timedelta(minutes=3))
    granted = set_consent(client, token, "PUSH", True)
    assert granted["userErrors"] == []
    assert (granted["consent"]["channel"], granted["consent"]["granted"]) == ("PUSH", True)
    assert datetime.fromisoformat(granted["consent"]["updatedAt"]) == joined + timedelta(minutes=3)

    # The same answer again keeps the moment it was first given.
    server_clock.advance(timedelta(minutes=3))
    again = set_consent(client, token, "PUSH", True)
    assert datetime.fromisoformat(again["consent"]["updatedAt"]) == joined + timedelta(minutes=3)

    server_clock.advance(timedelta(minutes=3))
    withdrawn = set_consent(client, token, "EMAIL", False)
    assert withdrawn["consent"]["granted"] is False
    assert datetime.fromisoformat(withdrawn["consent"]["updatedAt"]) == joined + timedelta(
        minutes=9
    )

    me = profile(client, token)
    assert consents(me) == {c: c == "PUSH" for c in ALL_CHANNELS}
    stamps = {c["channel"]: datetime.fromisoformat(c["updatedAt"]) for c in me["consents"]}
    assert stamps["PUSH"] == joined + timedelta(minutes=3)
    assert stamps["EMAIL"] == joined + timedelta(minutes=9)
    assert stamps["SMS"] == joined


def test_consents_are_per_member(server: ServerHandle, member: Any) -> None:
    client, token, _ = member
    other = sign_up(client, "other@example.com")["session"]["accessToken"]
    set_consent(client, other, "SMS", True)
    set_consent(client, other, "EMAIL", False)
    assert consents(profile(client, token)) == {c: c == "EMAIL" for c in ALL_CHANNELS}
    assert consents(profile(client, other)) == {c: c == "SMS" for c in ALL_CHANNELS}


OPERATIONS = {
    "Profile": None,
    "UpdateProfile": {"input": {"firstName": "Mallory"}},
    "SetConsent": {"input": {"channel": "SMS", "granted": True}},
}


def test_signed_out_callers_are_unauthenticated(server: ServerHandle, member: Any) -> None:
    client, token, _ = member
    before = profile(client, token)
    for operation, variables in OPERATIONS.items():
        result = server.client().post(PROFILE, variables, operation_name=operation)
        assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]
    assert profile(client, token) == before


def test_a_broken_token_is_not_a_signed_out_caller(server: ServerHandle) -> None:
    for operation, variables in OPERATIONS.items():
        codes = server.client("not-a-token").error_codes(
            PROFILE, variables, operation_name=operation
        )
        assert codes == ["INVALID_TOKEN"], operation


@pytest.mark.parametrize("scope", ["pos", "admin"])
def test_an_api_key_is_not_a_member(
    server: ServerHandle, server_clock: FixedClock, database_url: str, member: Any, scope: str
) -> None:
    client, token, _ = member
    before = profile(client, token)
    integration = server.client(api_key(database_url, [scope], server_clock.now()))
    for operation, variables in OPERATIONS.items():
        result = integration.post(PROFILE, variables, operation_name=operation)
        assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"], operation
    assert integration.error_codes("{ me { id } }") == ["FORBIDDEN"]
    assert profile(client, token) == before


TIME_ZONE = """mutation($input: UpdateProfileInput!) {
  updateProfile(input: $input) { member { timeZone } userErrors { field code } } }"""


def test_the_time_zone_is_an_optional_iana_name(member: Any) -> None:
    """Not in the contract's documents (an optional field beside them): set, kept when left
    out, cleared with null (the programme's time zone applies then)."""
    client, token, _ = member
    assert client.data("{ me { timeZone } }", token=token)["me"]["timeZone"] is None
    sent = client.data(TIME_ZONE, {"input": {"timeZone": " America/New_York "}}, token=token)
    assert sent["updateProfile"] == {"member": {"timeZone": "America/New_York"}, "userErrors": []}
    assert update(client, token, firstName="Evi")["userErrors"] == []
    assert client.data("{ me { timeZone } }", token=token)["me"]["timeZone"] == "America/New_York"
    cleared = client.data(TIME_ZONE, {"input": {"timeZone": None}}, token=token)
    assert cleared["updateProfile"]["member"] == {"timeZone": None}
