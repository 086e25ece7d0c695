"""Who may see whom: members, pos and admin keys; the admin member list and its loaders."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest

from loyalty.auth.apikeys import revoke_api_key
from loyalty.core.clock import FixedClock
from loyalty.storage.database import Database
from tests.api.helpers import api_key
from tests.support.data import sealed_id
from tests.support.flows import sign_up
from tests.support.server import ServerHandle

NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id ... on Member { email memberNumber consents { channel } } }
}"""
CARD = "query { me { id card { barcodeMessage barcodeFormat memberNumber } } }"
BY_CARD = """
query ByCard($barcode: String!) {
  memberByCard(barcodeMessage: $barcode) { id email card { barcodeMessage } }
}"""
MEMBERS = """
query Members($first: Int, $after: String) {
  members(first: $first, after: $after) {
    edges { cursor node { id email consents { channel granted } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def global_id(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.fixture
def two_members(server: ServerHandle) -> tuple[dict[str, Any], dict[str, Any]]:
    client = server.client()
    return sign_up(client, "ann@example.com"), sign_up(client, "bob@example.com")


# -- a member sees only themselves ------------------------------------------------------------


def test_node_with_own_id_is_the_member(server: ServerHandle, two_members: Any) -> None:
    ann, _ = two_members
    client = server.client(ann["session"]["accessToken"])
    node = client.data(NODE, {"id": ann["member"]["id"]})["node"]
    assert node["__typename"] == "Member"
    assert node["id"] == ann["member"]["id"]
    assert node["email"] == "ann@example.com"
    assert len(node["consents"]) == 5


def test_node_with_another_members_id_is_null(server: ServerHandle, two_members: Any) -> None:
    ann, bob = two_members
    for token, other in ((ann, bob), (bob, ann)):
        result = server.client(token["session"]["accessToken"]).post(
            NODE, {"id": other["member"]["id"]}
        )
        assert result == {"data": {"node": None}}


def test_node_for_a_signed_out_caller_is_null(server: ServerHandle, two_members: Any) -> None:
    ann, _ = two_members
    assert server.client().post(NODE, {"id": ann["member"]["id"]}) == {"data": {"node": None}}


def test_node_with_ids_of_nobody_is_null(
    server: ServerHandle, server_clock: FixedClock, database_url: str, two_members: Any
) -> None:
    # An admin key may see every member, so the id itself must lead nowhere (and not crash).
    admin = server.client(api_key(database_url, ["admin"], server_clock.now()))
    for raw in ["0", "999999", "-1", "abc", "²", "1" + "0" * 30]:
        assert admin.post(NODE, {"id": sealed_id(f"Member:{raw}")}) == {"data": {"node": None}}


def test_node_with_an_id_that_is_not_ours_is_bad_input(
    server: ServerHandle, two_members: Any
) -> None:
    ann, _ = two_members
    client = server.client(ann["session"]["accessToken"])
    own = ann["member"]["id"]
    not_ours = [
        "garbage",
        global_id("Member:1"),  # the guessable ids of old
        sealed_id("Nope:1"),
        sealed_id("Consent:1"),
        sealed_id("Member:1", secret="another installation's key, 32+ bytes"),
        own[:-2] + ("AA" if not own.endswith("AA") else "BB"),  # one sealed id, altered
        "",
    ]
    for raw in not_ours:
        assert client.error_codes(NODE, {"id": raw}) == ["BAD_USER_INPUT"], raw


def test_ids_are_opaque_and_stable(server: ServerHandle, two_members: Any) -> None:
    ann, bob = two_members
    for m in (ann, bob):
        raw = m["member"]["id"]
        assert "Member" not in base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode(
            "latin-1"
        )
        me = server.client(m["session"]["accessToken"]).data("{ me { id } }")["me"]
        assert me["id"] == raw


def test_a_till_key_walking_through_ids_reads_nothing(
    server: ServerHandle, server_clock: FixedClock, database_url: str, two_members: Any
) -> None:
    ann, bob = two_members
    pos = server.client(api_key(database_url, ["pos"], server_clock.now()))
    for m in (ann, bob):  # not even with real ids
        assert pos.post(NODE, {"id": m["member"]["id"]}) == {"data": {"node": None}}
    for n in range(1, 6):
        assert pos.post(NODE, {"id": sealed_id(f"Member:{n}")}) == {"data": {"node": None}}
        assert pos.error_codes(NODE, {"id": global_id(f"Member:{n}")}) == ["BAD_USER_INPUT"]
    reader = server.client(api_key(database_url, ["members"], server_clock.now(), "crm"))
    for m in (ann, bob):
        assert reader.data(NODE, {"id": m["member"]["id"]})["node"]["email"] == m["member"]["email"]


# -- API keys ---------------------------------------------------------------------------------


UNKNOWN_KEY = "trw_abcdefghijkl_" + "x" * 43


def test_unknown_api_key_is_refused(server: ServerHandle) -> None:
    for key in [UNKNOWN_KEY, "trw_short", "trw_abcdefghijkl_"]:
        client = server.client(key)
        assert client.error_codes("{ me { id } }") == ["INVALID_API_KEY"]
        assert client.error_codes(BY_CARD, {"barcode": "anything"}) == ["INVALID_API_KEY"]
        assert client.error_codes(MEMBERS, {"first": 1}) == ["INVALID_API_KEY"]


def test_revoked_api_key_is_refused(
    server: ServerHandle, server_clock: FixedClock, database_url: str
) -> None:
    key = api_key(database_url, ["admin"], server_clock.now())
    client = server.client(key)
    assert client.data(MEMBERS, {"first": 1})["members"]["edges"] == []

    async def revoke() -> None:
        db = Database(database_url)
        try:
            async with db.unit_of_work() as uow:
                await revoke_api_key(uow.session, key.split("_")[1], server_clock.now())
                await uow.commit()
        finally:
            await db.dispose()

    asyncio.run(revoke())
    # Verified keys are trusted for `api_key_cache_seconds` (0.5 s here), then read again.
    time.sleep(0.6)
    assert client.error_codes(MEMBERS, {"first": 1}) == ["INVALID_API_KEY"]


def test_a_verified_key_is_not_read_again_at_once(
    server: ServerHandle, server_clock: FixedClock, database_url: str, statements: list[str]
) -> None:
    client = server.client(api_key(database_url, ["admin"], server_clock.now()))
    client.data(MEMBERS, {"first": 1})
    statements.clear()
    client.data(MEMBERS, {"first": 1})
    assert not [s for s in statements if "api_keys" in s.lower()], statements
    time.sleep(0.6)
    statements.clear()
    client.data(MEMBERS, {"first": 1})
    assert [s for s in statements if "api_keys" in s.lower()]


def test_a_forged_secret_for_a_real_key_id_is_refused(
    server: ServerHandle, server_clock: FixedClock, database_url: str
) -> None:
    key = api_key(database_url, ["admin"], server_clock.now())
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert server.client(forged).error_codes(MEMBERS, {"first": 1}) == ["INVALID_API_KEY"]


def test_pos_key_finds_a_member_by_card(
    server: ServerHandle, server_clock: FixedClock, database_url: str, two_members: Any
) -> None:
    _, bob = two_members
    card = server.client(bob["session"]["accessToken"]).data(CARD)["me"]["card"]
    assert card["barcodeFormat"] == "QR"
    assert card["barcodeMessage"]
    pos = server.client(api_key(database_url, ["pos"], server_clock.now()))

    found = pos.data(BY_CARD, {"barcode": card["barcodeMessage"]})["memberByCard"]
    assert found == {
        "id": bob["member"]["id"],
        "email": None,  # a till sees only what a till needs
        "card": {"barcodeMessage": card["barcodeMessage"]},
    }
    # A scanner may add whitespace around the message.
    padded = pos.data(BY_CARD, {"barcode": f" {card['barcodeMessage']}\n"})["memberByCard"]
    assert padded["id"] == bob["member"]["id"]
    assert pos.post(BY_CARD, {"barcode": "no-such-card"}) == {"data": {"memberByCard": None}}
    assert pos.post(BY_CARD, {"barcode": card["barcodeMessage"][:-1]}) == {
        "data": {"memberByCard": None}
    }


def test_card_lookup_is_not_for_members(server: ServerHandle, two_members: Any) -> None:
    ann, bob = two_members
    card = server.client(bob["session"]["accessToken"]).data(CARD)["me"]["card"]
    barcode = {"barcode": card["barcodeMessage"]}
    assert server.client(ann["session"]["accessToken"]).error_codes(BY_CARD, barcode) == [
        "FORBIDDEN"
    ]
    assert server.client().error_codes(BY_CARD, barcode) == ["UNAUTHENTICATED"]


def test_pos_key_may_not_list_members(
    server: ServerHandle, server_clock: FixedClock, database_url: str, two_members: Any
) -> None:
    pos = server.client(api_key(database_url, ["pos"], server_clock.now()))
    result = pos.post(MEMBERS, {"first": 10})
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert "admin" in result["errors"][0]["message"]
    assert result["data"] is None


def test_members_list_is_not_for_members(server: ServerHandle, two_members: Any) -> None:
    ann, _ = two_members
    assert server.client(ann["session"]["accessToken"]).error_codes(MEMBERS) == ["FORBIDDEN"]
    assert server.client().error_codes(MEMBERS) == ["UNAUTHENTICATED"]


# -- the admin member list --------------------------------------------------------------------


@pytest.fixture
def five_members(server: ServerHandle) -> list[str]:
    client = server.client()
    return [sign_up(client, f"m{i}@example.com")["member"]["id"] for i in range(5)]


@pytest.fixture
def admin(server: ServerHandle, server_clock: FixedClock, database_url: str) -> Any:
    return server.client(api_key(database_url, ["admin"], server_clock.now(), name="back office"))


def test_members_pages_forward_with_cursors(five_members: list[str], admin: Any) -> None:
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        page = admin.data(MEMBERS, {"first": 2, "after": after})["members"]
        pages.append(page)
        edges = page["edges"]
        info = page["pageInfo"]
        assert info["startCursor"] == edges[0]["cursor"]
        assert info["endCursor"] == edges[-1]["cursor"]
        assert info["hasPreviousPage"] is (after is not None)
        seen += [e["node"]["id"] for e in edges]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
        assert len(pages) < 5
    assert [len(p["edges"]) for p in pages] == [2, 2, 1]
    assert seen == five_members  # oldest first, each once
    # Every node carries its consents.
    assert all(len(e["node"]["consents"]) == 5 for p in pages for e in p["edges"])
    # A cursor from the middle of a page continues right after that member.
    middle = pages[0]["edges"][0]["cursor"]
    rest = admin.data(MEMBERS, {"first": 10, "after": middle})["members"]
    assert [e["node"]["id"] for e in rest["edges"]] == five_members[1:]
    assert rest["pageInfo"]["hasNextPage"] is False


def test_members_default_and_exact_page_sizes(five_members: list[str], admin: Any) -> None:
    everyone = admin.data(MEMBERS)["members"]
    assert [e["node"]["id"] for e in everyone["edges"]] == five_members
    assert everyone["pageInfo"]["hasNextPage"] is False
    exact = admin.data(MEMBERS, {"first": 5})["members"]
    assert len(exact["edges"]) == 5
    assert exact["pageInfo"]["hasNextPage"] is False
    one_short = admin.data(MEMBERS, {"first": 4})["members"]
    assert one_short["pageInfo"]["hasNextPage"] is True
    last = admin.data(MEMBERS, {"after": exact["pageInfo"]["endCursor"]})["members"]
    assert last["edges"] == []
    assert last["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }


def test_members_page_size_is_capped(five_members: list[str], admin: Any) -> None:
    assert len(admin.data(MEMBERS, {"first": 100})["members"]["edges"]) == 5
    assert admin.error_codes(MEMBERS, {"first": 101}) == ["BAD_USER_INPUT"]
    assert admin.error_codes(MEMBERS, {"first": 1_000_000}) == ["BAD_USER_INPUT"]
    assert admin.error_codes(MEMBERS, {"first": -1}) == ["BAD_USER_INPUT"]


BAD_CURSORS = [
    "garbage",
    "!!!",
    cursor("offers:1"),
    cursor("members"),
    cursor("members:"),
    cursor("members:abc"),
    cursor("members:1:2"),
    cursor("members:-1"),
    cursor("members:²"),
    cursor("members:" + "9" * 30),
    global_id("Member:1"),
]


def test_members_refuse_a_cursor_not_from_this_list(five_members: list[str], admin: Any) -> None:
    for after in BAD_CURSORS:
        result = admin.post(MEMBERS, {"first": 2, "after": after})
        codes = [e["extensions"]["code"] for e in result["errors"]]
        assert codes == ["BAD_USER_INPUT"], (after, result)


def test_members_load_consents_in_one_query(
    server: ServerHandle, admin: Any, statements: list[str]
) -> None:
    client = server.client()
    for i in range(10):
        token = sign_up(client, f"n{i}@example.com")["session"]["accessToken"]
        client.data(
            "mutation($i: SetConsentInput!) { setConsent(input: $i) { userErrors { code } } }",
            {"i": {"channel": "SMS", "granted": i % 2 == 0}},
            token=token,
        )
    admin.data(MEMBERS, {"first": 1})  # the key's first use is recorded; not counted below

    def run(first: int) -> tuple[list[dict[str, Any]], list[str]]:
        statements.clear()
        edges = admin.data(MEMBERS, {"first": first})["members"]["edges"]
        return edges, list(statements)

    one_edges, one = run(1)
    assert len(one_edges) == 1
    ten_edges, ten = run(10)
    assert len(ten_edges) == 10
    grants = [{c["channel"]: c["granted"] for c in e["node"]["consents"]} for e in ten_edges]
    assert [g["SMS"] for g in grants] == [i % 2 == 0 for i in range(10)]
    assert all(len(g) == 5 for g in grants)

    def consent_reads(sent: list[str]) -> int:
        return sum(1 for s in sent if "member_consents" in s.lower())

    assert consent_reads(one) == 1
    assert consent_reads(ten) == 1, ten
    # Ten members cost what one does: no statement per member.
    assert len(ten) == len(one), (one, ten)
