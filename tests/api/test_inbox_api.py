"""The inbox and push devices over real HTTP: the contract's Inbox and MarkMessageRead as
written, messages put there by the notification worker, and registerDevice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from loyalty.core.clock import FixedClock
from loyalty.core.events import decode
from loyalty.core.outbox import emit
from loyalty.storage.database import Database
from notifications.config import NotificationConfig
from notifications.worker import Worker
from tests.contract.operations import operation
from tests.support.data import install, opened_id, server_ids
from tests.support.flows import sign_up
from tests.support.server import GraphQLClient, ServerHandle

INBOX_FILE = "member-app/referral-wallet-inbox.graphql"
INBOX = operation(INBOX_FILE, "Inbox")
MARK_READ = operation(INBOX_FILE, "MarkMessageRead")
UNREAD = """
query Unread($first: Int, $after: String) {
  me { inbox(first: $first, after: $after, unreadOnly: true) {
    totalCount edges { node { id title readAt } } pageInfo { hasNextPage endCursor } } }
  unreadMessageCount
}"""
REGISTER = """
mutation RegisterDevice($input: RegisterDeviceInput!) {
  registerDevice(input: $input) {
    device { id platform createdAt lastSeenAt }
    userErrors { field message code }
  }
}"""
UNREGISTER = """
mutation UnregisterDevice($input: UnregisterDeviceInput!) {
  unregisterDevice(input: $input) { removed userErrors { field message code } }
}"""
NODE = "query Node($id: ID!) { node(id: $id) { id ... on InboxMessage { title } } }"


@pytest.fixture
def served(
    server: ServerHandle, server_clock: FixedClock, clean_database: str
) -> tuple[ServerHandle, FixedClock]:
    install(clean_database)  # the demo programme: Dutch by default, tiers Brons/Zilver/Goud
    return server, server_clock


def _member(client: GraphQLClient, email: str, in_app: bool = True) -> tuple[str, str]:
    result = sign_up(client, email, consents=[{"channel": "IN_APP", "granted": in_app}])
    return result["session"]["accessToken"], result["member"]["id"]


def _deliver_events(
    database_url: str, clock: FixedClock, member_id: int, events: list[tuple[str, dict[str, Any]]]
) -> None:
    """Events as the domain writes them, then one round of the notification worker."""

    async def run() -> None:
        db = Database(database_url)
        try:
            for topic, payload in events:
                async with db.unit_of_work() as uow:
                    emit(uow.session, decode(topic, member_id, payload, 1), clock.now())
                    await uow.commit()
                clock.advance(timedelta(seconds=1))
            worker = Worker(db, clock, NotificationConfig(ids=server_ids()), {})
            while await worker.run_once():
                pass
            await worker.aclose()
        finally:
            await db.dispose()

    asyncio.run(run())


def _row_id(global_id: str) -> int:
    return opened_id(global_id)[1]


EXPIRING = ("points.expiring", {"points": 120, "expires_at": "2030-04-01T00:00:00+02:00"})
SILVER = ("tier.changed", {"from": "brons", "to": "zilver", "reason": "earned"})
GOLD = ("tier.changed", {"from": "zilver", "to": "goud", "reason": "earned"})


def test_inbox_and_mark_message_read_as_the_contract_sends_them(
    served: tuple[ServerHandle, FixedClock], database_url: str
) -> None:
    server, clock = served
    client = server.client()
    token, member_gid = _member(client, "ilse@example.com")
    _deliver_events(database_url, clock, _row_id(member_gid), [EXPIRING, SILVER, GOLD])

    first = client.data(INBOX, {"first": 2}, operation_name="Inbox", token=token)["me"]
    assert first["id"] == member_gid
    inbox = first["inbox"]
    assert inbox["totalCount"] == 3
    titles = [e["node"]["title"] for e in inbox["edges"]]
    assert titles == ["Welkom in Goud", "Welkom in Zilver"]  # newest first
    node = inbox["edges"][0]["node"]
    assert set(node) == {"id", "title", "body", "createdAt", "readAt", "offer"}
    assert node["readAt"] is None and node["offer"] is None
    assert node["body"]
    assert inbox["pageInfo"]["hasNextPage"] is True

    rest = client.data(
        INBOX,
        {"first": 2, "after": inbox["pageInfo"]["endCursor"]},
        operation_name="Inbox",
        token=token,
    )["me"]["inbox"]
    assert [e["node"]["title"] for e in rest["edges"]] == ["120 punten vervallen op 31 mrt 2030"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["endCursor"]
    assert rest["totalCount"] == 3

    message_id = node["id"]
    clock.advance(timedelta(minutes=5))
    marked = client.data(
        MARK_READ,
        {"input": {"messageId": message_id}},
        operation_name="MarkMessageRead",
        token=token,
    )["markMessageRead"]
    assert marked["userErrors"] == []
    assert marked["message"]["id"] == message_id
    read_at = marked["message"]["readAt"]
    assert datetime.fromisoformat(read_at) == clock.now()

    # Marking it again changes nothing.
    clock.advance(timedelta(minutes=5))
    again = client.data(
        MARK_READ,
        {"input": {"messageId": message_id}},
        operation_name="MarkMessageRead",
        token=token,
    )["markMessageRead"]
    assert again["message"]["readAt"] == read_at

    unread = client.data(UNREAD, {"first": 10}, token=token)
    assert unread["me"]["inbox"]["totalCount"] == 2
    assert [e["node"]["title"] for e in unread["me"]["inbox"]["edges"]] == [
        "Welkom in Zilver",
        "120 punten vervallen op 31 mrt 2030",
    ]
    assert unread["unreadMessageCount"] == 2
    everything = client.data(INBOX, {"first": 10}, operation_name="Inbox", token=token)
    assert everything["me"]["inbox"]["totalCount"] == 3
    assert everything["me"]["inbox"]["edges"][0]["node"]["readAt"] == read_at


def test_paging_through_unread_messages(
    served: tuple[ServerHandle, FixedClock], database_url: str
) -> None:
    server, clock = served
    client = server.client()
    token, member_gid = _member(client, "joost@example.com")
    _deliver_events(database_url, clock, _row_id(member_gid), [EXPIRING, SILVER, GOLD])
    seen: list[str] = []
    after = None
    while True:
        page = client.data(UNREAD, {"first": 1, "after": after}, token=token)["me"]["inbox"]
        seen += [e["node"]["title"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 3 and len(set(seen)) == 3


def test_another_members_message_is_not_found(
    served: tuple[ServerHandle, FixedClock], database_url: str
) -> None:
    server, clock = served
    client = server.client()
    owner_token, owner_gid = _member(client, "owner@example.com")
    other_token, _ = _member(client, "other@example.com")
    _deliver_events(database_url, clock, _row_id(owner_gid), [GOLD])
    [edge] = client.data(INBOX, {"first": 5}, operation_name="Inbox", token=owner_token)["me"][
        "inbox"
    ]["edges"]
    message_id = edge["node"]["id"]

    refused = client.data(
        MARK_READ,
        {"input": {"messageId": message_id}},
        operation_name="MarkMessageRead",
        token=other_token,
    )["markMessageRead"]
    assert refused["message"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("NOT_FOUND", ["input", "messageId"])
    ]
    # Nor can the other member read it by its id; the owner can.
    assert client.data(NODE, {"id": message_id}, token=other_token)["node"] is None
    assert client.data(NODE, {"id": message_id}, token=owner_token)["node"]["title"]
    # It is still unread for its owner.
    owner = client.data(INBOX, {"first": 5}, operation_name="Inbox", token=owner_token)
    assert owner["me"]["inbox"]["edges"][0]["node"]["readAt"] is None
    # The other member's own inbox is empty.
    other = client.data(INBOX, {"first": 5}, operation_name="Inbox", token=other_token)
    assert other["me"]["inbox"] == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


def test_without_in_app_consent_the_inbox_stays_empty(
    served: tuple[ServerHandle, FixedClock], database_url: str
) -> None:
    server, clock = served
    client = server.client()
    token, member_gid = _member(client, "quiet@example.com", in_app=False)
    _deliver_events(database_url, clock, _row_id(member_gid), [EXPIRING, GOLD])
    inbox = client.data(INBOX, {"first": 5}, operation_name="Inbox", token=token)["me"]["inbox"]
    assert inbox["totalCount"] == 0


def test_bad_input_and_no_sign_in(served: tuple[ServerHandle, FixedClock]) -> None:
    server, _ = served
    client = server.client()
    token, member_gid = _member(client, "kim@example.com")
    # A member's id is not a message id.
    result = client.post(
        MARK_READ,
        {"input": {"messageId": member_gid}},
        operation_name="MarkMessageRead",
        token=token,
    )
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]
    assert client.error_codes(
        MARK_READ, {"input": {"messageId": member_gid}}, operation_name="MarkMessageRead"
    ) == ["UNAUTHENTICATED"]
    assert client.error_codes(INBOX, {"first": 500}, operation_name="Inbox", token=token) == [
        "BAD_USER_INPUT"
    ]
    assert client.error_codes(
        INBOX, {"first": 5, "after": "bm90LWEtY3Vyc29y"}, operation_name="Inbox", token=token
    ) == ["BAD_USER_INPUT"]


def test_register_and_unregister_devices(served: tuple[ServerHandle, FixedClock]) -> None:
    server, clock = served
    client = server.client()
    anna, _ = _member(client, "anna@example.com")
    bert, _ = _member(client, "bert@example.com")

    def register(token: str, platform: str, push_token: str) -> dict[str, Any]:
        return dict(
            client.data(
                REGISTER, {"input": {"platform": platform, "token": push_token}}, token=token
            )["registerDevice"]
        )

    first = register(anna, "IOS", "a" * 64)
    assert first["userErrors"] == []
    assert first["device"]["platform"] == "IOS"
    clock.advance(timedelta(minutes=10))
    again = register(anna, "IOS", "a" * 64)
    assert again["device"]["id"] == first["device"]["id"]
    assert datetime.fromisoformat(again["device"]["lastSeenAt"]) == clock.now()

    # The phone passes to Bert: Anna can no longer remove it, Bert can.
    moved = register(bert, "IOS", "a" * 64)
    assert moved["userErrors"] == []
    gone = client.data(UNREGISTER, {"input": {"token": "a" * 64}}, token=anna)
    assert gone["unregisterDevice"] == {"removed": False, "userErrors": []}
    gone = client.data(UNREGISTER, {"input": {"token": "a" * 64}}, token=bert)
    assert gone["unregisterDevice"] == {"removed": True, "userErrors": []}

    refused = register(anna, "ANDROID", "   ")
    assert refused["device"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("INVALID_TOKEN", ["input", "token"])
    ]
    assert client.error_codes(REGISTER, {"input": {"platform": "IOS", "token": "x"}}) == [
        "UNAUTHENTICATED"
    ]
    # Not a platform at all: the request itself is refused.
    assert client.post(REGISTER, {"input": {"platform": "WINDOWS", "token": "x"}}, token=anna)[
        "errors"
    ]
