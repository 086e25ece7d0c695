"""The audit log: every admin and till mutation is recorded (none can be forgotten), with who,
what, when and from where, without personal data; admins read it with filters and pages;
entries cannot be changed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from strawberry.utils.str_converters import to_camel_case

from api.audit.extension import Audited
from api.audit.policy import MEMBER_SELF_SERVICE
from api.schema import Mutation, build_schema
from loyalty.core.clock import FixedClock
from loyalty.storage.database import Database
from tests.api.helpers import api_key, contract
from tests.contract.operations import operation
from tests.support.data import install, opened_id
from tests.support.flows import sign_up
from tests.support.server import GraphQLClient, ServerHandle

ADMIN = operation("admin/privacy-audit.graphql", "AuditLog")
POS = contract("pos/pos.graphql")
LINES = [{"sku": "KOF-CAP", "category": "koffie", "quantity": "2", "unitPrice": "3.40"}]
FULL_LOG = """
query Log($first: Int!, $after: String, $filter: AuditLogFilter) {
  auditLog(first: $first, after: $after, filter: $filter) {
    edges { node {
      id at actor actorKind actorKeyId action outcome targets subject summary
      clientAddress userAgent
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""
UPDATE_PROFILE = """
mutation U($input: UpdateProfileInput!) { updateProfile(input: $input) { userErrors { code } } }
"""


def test_every_mutation_is_audited_or_a_members_self_service() -> None:
    build_schema()
    fields = Mutation.__strawberry_definition__.fields  # type: ignore[attr-defined]
    names = {f.graphql_name or to_camel_case(f.python_name) for f in fields}
    assert names >= MEMBER_SELF_SERVICE
    for field in fields:
        name = field.graphql_name or to_camel_case(field.python_name)
        audited = [e for e in field.extensions if isinstance(e, Audited)]
        if name in MEMBER_SELF_SERVICE:
            assert not audited, name
        else:
            assert len(audited) == 1, f"{name} is neither audited nor a member's self-service"
            # Outermost, so refusals by the input check are recorded as well.
            assert field.extensions[-1] is audited[0], name


def log(admin: GraphQLClient, **variables: Any) -> list[dict[str, Any]]:
    page = admin.data(FULL_LOG, {"first": 50, **variables})["auditLog"]
    return [edge["node"] for edge in page["edges"]]


@pytest.fixture
def shop(server: ServerHandle, server_clock: FixedClock, database_url: str) -> Any:
    install(database_url)
    now = server_clock.now()
    till = server.client(api_key(database_url, ["pos"], now, "till 7"))
    admin = server.client(api_key(database_url, ["admin"], now, "back office"))
    member = sign_up(server.client(), "audit@example.com", firstName="Ann")
    client = server.client(member["session"]["accessToken"])
    barcode = client.data("{ me { card { barcodeMessage } } }")["me"]["card"]["barcodeMessage"]
    return till, admin, client, member["member"]["id"], barcode


def test_till_and_admin_changes_are_recorded_without_personal_data(shop: Any) -> None:
    till, admin, member, member_id, barcode = shop
    sale = {"member": {"barcodeMessage": barcode}, "externalId": "BON-1", "lines": LINES}
    headers = {"user-agent": "Kassa/3.1", "authorization": f"Bearer {till.token}"}
    body = {"query": POS, "operationName": "RecordPurchase", "variables": {"input": sale}}
    assert (
        httpx.post(till.url, json=body, headers=headers).json()["data"]["recordPurchase"][
            "userErrors"
        ]
        == []
    )
    refused = {**sale, "externalId": "BON\x00"}
    till.data(POS, {"input": refused}, operation_name="RecordPurchase")
    adjust = {"member": {"id": member_id}, "points": 5, "reason": "Sorry, Ann de Vries"}
    admin.data(POS, {"input": adjust}, operation_name="AdjustPoints")
    member.data(UPDATE_PROFILE, {"input": {"lastName": "de Vries"}})  # self-service: not logged

    entries = log(admin)
    assert [(e["action"], e["actor"], e["outcome"]) for e in entries] == [
        ("adjustPoints", "back office", "ok"),
        ("recordPurchase", "till 7", "INVALID_TEXT"),
        ("recordPurchase", "till 7", "ok"),
        ("apiKey.created", "trouw", "ok"),  # the keys of this test, made outside the API
        ("apiKey.created", "trouw", "ok"),
    ]
    assert entries[-1]["summary"] == {
        "keyId": entries[-1]["summary"]["keyId"],
        "name": "till 7",
        "scopes": ["pos"],
    }
    entries = entries[:3]
    adjusted, _, purchase = entries
    assert member_id in adjusted["targets"] and adjusted["subject"] == member_id
    assert adjusted["summary"]["input"]["reason"] == "<19 characters>"
    assert adjusted["summary"]["input"]["points"] == 5
    assert purchase["summary"]["input"]["externalId"] == "BON-1"
    assert purchase["summary"]["input"]["member"]["barcodeMessage"].endswith("characters>")
    assert member_id in purchase["targets"]
    assert {opened_id(t)[0] for t in purchase["targets"]} == {"Member", "Purchase"}
    assert purchase["userAgent"] == "Kassa/3.1"
    assert purchase["clientAddress"] == "127.0.0.1"
    assert purchase["actorKind"] == "api_key" and purchase["actorKeyId"]
    everything = str(entries)
    assert "Ann" not in everything and "Vries" not in everything and barcode not in everything


def test_the_log_is_for_admins_with_filters_and_pages(shop: Any) -> None:
    till, admin, member, member_id, barcode = shop
    for n in range(3):
        sale = {"member": {"barcodeMessage": barcode}, "externalId": f"B{n}", "lines": LINES}
        till.data(POS, {"input": sale}, operation_name="RecordPurchase")
    first = admin.data(ADMIN, {"first": 2})["auditLog"]
    assert first["pageInfo"]["hasNextPage"]
    rest = admin.data(ADMIN, {"first": 10, "after": first["pageInfo"]["endCursor"]})["auditLog"]
    seen = [e["node"] for e in first["edges"] + rest["edges"]]
    assert len({e["id"] for e in seen}) == len(seen)
    # The API keys made for this test are in the log too (made by the system here).
    assert {e["action"] for e in seen} == {"recordPurchase", "apiKey.created"}
    assert len(log(admin, filter={"action": "recordPurchase", "target": member_id})) == 3
    assert log(admin, filter={"actor": "nobody"}) == []
    for caller in (till, member):
        assert caller.error_codes(ADMIN, {"first": 5}) == ["FORBIDDEN"]


def test_entries_cannot_be_changed_on_postgresql(shop: Any, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the append-only trigger is PostgreSQL's")

    async def tamper(statement: str) -> str:
        db = Database(database_url)
        try:
            async with db.engine.begin() as conn:
                await conn.execute(text(statement))
        except Exception as exc:
            return str(exc)
        finally:
            await db.dispose()
        return "changed"

    for statement in ("UPDATE audit_entries SET actor_name = 'x'", "DELETE FROM audit_entries"):
        assert "append-only" in asyncio.run(tamper(statement))


def test_a_purchase_is_recorded_once_with_its_write_and_a_retry_on_its_own(shop: Any) -> None:
    """A till's purchase is recorded in the purchase's transaction; a retry by the same
    externalId (answered from the first purchase, nothing written) and a refusal still get
    an entry each, written after the resolver. The entries name the same objects."""
    till, admin, _, member_id, barcode = shop
    sale = {"member": {"barcodeMessage": barcode}, "externalId": "BON-9", "lines": LINES}
    first = till.data(POS, {"input": sale}, operation_name="RecordPurchase")["recordPurchase"]
    again = till.data(POS, {"input": sale}, operation_name="RecordPurchase")["recordPurchase"]
    assert first["purchase"]["id"] == again["purchase"]["id"]
    unknown = {**sale, "member": {"memberNumber": "0000000000"}, "externalId": "BON-10"}
    till.data(POS, {"input": unknown}, operation_name="RecordPurchase")
    entries = log(admin, filter={"action": "recordPurchase"})
    assert [e["outcome"] for e in entries] == ["NOT_FOUND", "ok", "ok"]
    retry, recorded = entries[1], entries[2]
    assert retry["targets"] == recorded["targets"]
    assert set(recorded["targets"]) == {member_id, first["purchase"]["id"]}
