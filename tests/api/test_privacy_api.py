"""The contract's privacy operations over real HTTP: the member's export and account deletion
(member-app/privacy.graphql) and the back office's export and erasure (admin/privacy-audit)."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlparse

from graphql import OperationDefinitionNode, parse, print_ast

from loyalty.core.clock import FixedClock
from tests.api.helpers import api_key, contract
from tests.support.flows import STRONG_PASSWORD, sign_up
from tests.support.server import ServerHandle

MEMBER = contract("member-app/privacy.graphql")
# The audit log's query in the same file is another change's; send the two mutations alone.
ADMIN = "\n".join(
    print_ast(d)
    for d in parse(contract("admin/privacy-audit.graphql")).definitions
    if isinstance(d, OperationDefinitionNode) and d.name and d.name.value != "AuditLog"
)


def _download(server: ServerHandle, url: str) -> tuple[int, bytes]:
    local = server.url + urlparse(url).path
    try:
        with urllib.request.urlopen(local, timeout=10) as answer:
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_member_exports_and_deletes_then_cancels(
    server: ServerHandle, server_clock: FixedClock, clean_database: str
) -> None:
    client = server.client()
    joined = sign_up(client, "femke@example.com", firstName="Femke", lastName="Hofstede")
    token = joined["session"]["accessToken"]

    export = client.data(MEMBER, {"input": {}}, operation_name="RequestDataExport", token=token)
    payload = export["requestDataExport"]
    assert payload["userErrors"] == [] and payload["export"]["state"] == "READY"
    status, body = _download(server, payload["export"]["downloadUrl"])
    assert status == 200
    document = json.loads(body)
    assert document["sections"]["profile"]["first_name"] == "Femke"
    assert _download(server, "/privacy/exports/" + "x" * 40)[0] == 404

    wrong = client.data(
        MEMBER, {"input": {"confirm": True, "password": "not-it"}},
        operation_name="DeleteAccount", token=token,
    )["deleteAccount"]  # fmt: skip
    assert [e["code"] for e in wrong["userErrors"]] == ["WRONG_PASSWORD"]
    deleted = client.data(
        MEMBER, {"input": {"confirm": True, "password": STRONG_PASSWORD}},
        operation_name="DeleteAccount", token=token,
    )["deleteAccount"]  # fmt: skip
    assert deleted["userErrors"] == [] and deleted["erasure"]["state"] == "SCHEDULED"
    cancelled = client.data(
        MEMBER, {"input": {}}, operation_name="CancelAccountDeletion", token=token
    )["cancelAccountDeletion"]
    assert cancelled["erasure"] == {"id": deleted["erasure"]["id"], "state": "CANCELLED"}
    again = client.data(MEMBER, {"input": {}}, operation_name="CancelAccountDeletion", token=token)[
        "cancelAccountDeletion"
    ]
    assert [e["code"] for e in again["userErrors"]] == ["NO_PENDING_ERASURE"]

    # The member's own export and erasure request are in the audit log, with them as actor.
    admin = server.client(api_key(clean_database, ["admin"], server_clock.now()))
    log = admin.data(
        contract("admin/privacy-audit.graphql"), {"first": 50}, operation_name="AuditLog"
    )["auditLog"]["edges"]
    actions = [(e["node"]["action"], e["node"]["actor"]) for e in log]
    for action in ("member.data_exported", "member.erasure_requested", "member.erasure_cancelled"):
        assert any(a == action and "member" in actor for a, actor in actions), actions


def test_admin_exports_and_erases_at_once(
    server: ServerHandle, server_clock: FixedClock, clean_database: str
) -> None:
    member = sign_up(server.client(), "joost@example.com", firstName="Joost")["member"]
    admin = server.client(api_key(clean_database, ["admin"], server_clock.now(), "back office"))
    till = server.client(api_key(clean_database, ["pos"], server_clock.now()))

    export = admin.data(
        ADMIN, {"input": {"memberId": member["id"]}}, operation_name="ExportMemberData"
    )
    assert export["exportMemberData"]["export"]["state"] == "READY"
    refused = till.post(ADMIN, {"input": {"memberId": member["id"]}}, operation_name="EraseMember")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    erased = admin.data(
        ADMIN, {"input": {"memberId": member["id"], "graceDays": 0}}, operation_name="EraseMember"
    )["eraseMember"]
    assert erased["userErrors"] == []
    assert erased["erasure"]["state"] == "COMPLETED" and erased["erasure"]["completedAt"]
    twice = admin.data(ADMIN, {"input": {"memberId": member["id"]}}, operation_name="EraseMember")[
        "eraseMember"
    ]
    assert [e["code"] for e in twice["userErrors"]] == ["MEMBER_ERASED"]
    status, _ = _download(server, export["exportMemberData"]["export"]["downloadUrl"])
    assert status == 404  # sealed with the erased member's key
