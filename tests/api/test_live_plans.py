"""Subscription plans answer exactly what Strawberry's executor answers for the same event,
and documents a plan does not cover get none (the executor runs them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import execute, parse
from strawberry import relay

from api.core import ids
from api.core.ids import IdCodec
from api.live.plans import Plans
from api.live.subscriptions import LIVE_FIELDS, balance_event
from api.schema import build_schema
from api.settings import Settings
from loyalty.core.events import BalanceChanged, OfferChanged
from notifications.bus import BusMessage
from tests.contract.operations import operation

SCHEMA = build_schema(Settings(_env_file=None))
WHEN = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def codec() -> Iterator[None]:
    """Ids sealed with a key of this test's own, by the executor and the plans alike."""
    ids.use(IdCodec(b"live plans test key"))
    yield
    ids.use(None)


def _balance_message(expiring: bool) -> BusMessage:
    event = BalanceChanged(
        member_id=7,
        entry_id=41,
        kind="earn",
        points=120,
        entry_description="Koffie & \u00e9clair",
        occurred_at=WHEN,
        available_at=WHEN if expiring else None,
        expires_at=WHEN if expiring else None,
        available=300,
        pending=120,
        lifetime_earned=900,
        debt=0,
        expiring_points=50 if expiring else 0,
        expiring_at=WHEN if expiring else None,
    )
    # Through JSON, as the bus carries it.
    payload = json.loads(json.dumps(event.to_payload()))
    return BusMessage(99, event.name, 7, WHEN.isoformat(), payload)


def _balance(expiring: bool) -> Any:
    return balance_event(_balance_message(expiring))


def _offer() -> Any:
    offer = {
        "id": 12,
        "title": "Gratis croissant",
        "kind": "free_item",
        "state": "activated",
        "valid_until": "2026-12-31T23:00:00+00:00",
        "coupon_code": "KOF-123",
    }
    event = OfferChanged(member_id=7, change="granted", offer=offer)
    message = BusMessage(100, event.name, 7, WHEN.isoformat(), event.to_payload())
    return LIVE_FIELDS["offersChanged"].build(None, 7, message)  # type: ignore[arg-type]


EVERYTHING_BALANCE = """
subscription Everything($after: String) {
  live: balanceChanged(after: $after) {
    __typename
    cursor
    ...Amounts
    entry { id kind points description occurredAt availableAt expiresAt __typename }
    entry { ... on PointsTransaction { again: points } }
  }
}
fragment Amounts on BalanceChangedEvent {
  balance { available pending lifetimeEarned debt expiringSoon { points expiresAt } }
}"""
EVERYTHING_OFFERS = """
subscription {
  offersChanged(after: null) {
    change cursor
    offer { id title description terms imageUrl kind state validFrom validUntil couponCode }
  }
}"""

CASES = [
    (operation("member-app/live.graphql", "OnBalanceChanged"), False),
    (operation("member-app/live.graphql", "OnBalanceChanged"), True),
    (EVERYTHING_BALANCE, False),
    (EVERYTHING_BALANCE, True),
    (operation("member-app/live.graphql", "OnOffersChanged"), None),
    (EVERYTHING_OFFERS, None),
]


@pytest.mark.parametrize(("document", "expiring"), CASES)
def test_a_plan_renders_what_the_executor_would(document: str, expiring: bool | None) -> None:
    plan = Plans(SCHEMA, LIVE_FIELDS).get(document, None)
    assert plan is not None
    source = _offer() if expiring is None else _balance(expiring)
    executed = execute(SCHEMA._schema, parse(document), root_value=source)
    assert executed.errors is None
    assert json.loads(plan.data(source)) == {"data": executed.data}
    # Same keys in the same order, too.
    assert list(json.loads(plan.data(source))["data"]) == list(executed.data or {})


@pytest.mark.parametrize(("document", "expiring"), [c for c in CASES if c[1] is not None])
def test_a_plan_renders_from_the_payload_what_the_executor_would(
    document: str, expiring: bool
) -> None:
    plan = Plans(SCHEMA, LIVE_FIELDS).get(document, None)
    assert plan is not None and plan.direct is not None
    message = _balance_message(expiring)
    executed = execute(SCHEMA._schema, parse(document), root_value=balance_event(message))
    assert executed.errors is None
    # The very text: same values, keys in the same order.
    assert plan.direct_data(message) == plan.data(balance_event(message))
    assert json.loads(plan.direct_data(message)) == {"data": executed.data}


def test_fields_without_payload_readers_render_through_the_typed_event() -> None:
    offers = Plans(SCHEMA, LIVE_FIELDS).get(EVERYTHING_OFFERS, None)
    assert offers is not None and offers.direct is None
    message = _balance_message(True)
    del message.payload["kind"]
    plan = Plans(SCHEMA, LIVE_FIELDS).get(EVERYTHING_BALANCE, None)
    assert plan is not None
    with pytest.raises(KeyError):  # the transport then builds the event, which says why
        plan.direct_data(message)


def test_the_cursor_comes_from_the_literal_or_the_variable() -> None:
    plans = Plans(SCHEMA, LIVE_FIELDS)
    literal = plans.get('subscription { balanceChanged(after: "abc") { cursor } }', None)
    assert literal is not None and literal.cursor(None) == (True, "abc")
    variable = plans.get(EVERYTHING_BALANCE, "Everything")
    assert variable is not None
    assert variable.cursor({"after": "xyz"}) == (True, "xyz")
    assert variable.cursor({}) == (True, None)
    assert variable.cursor({"after": 5})[0] is False  # the executor says why
    required = plans.get("subscription($a: String!) { balanceChanged(after: $a) { cursor } }", None)
    assert required is not None and required.cursor({})[0] is False


@pytest.mark.parametrize(
    "document",
    [
        "subscription { offersChanged { offer { score { total } } } }",  # a resolver
        "subscription { balanceChanged { cursor @include(if: true) } }",  # a directive
        "subscription { balanceChanged { nope } }",  # not valid
        "subscription { balanceChanged { cursor }",  # not parsed
        "{ me { email } }",  # not a subscription
        "subscription A { balanceChanged { cursor } } subscription B { offersChanged { change } }",
    ],
)
def test_documents_a_plan_does_not_cover_get_none(document: str) -> None:
    assert Plans(SCHEMA, LIVE_FIELDS).get(document, None) is None


def test_the_schema_limits_apply_to_planned_documents() -> None:
    plans = Plans(SCHEMA, LIVE_FIELDS)
    aliases = " ".join(f"a{i}: cursor" for i in range(40))
    assert plans.get(f"subscription {{ balanceChanged {{ {aliases} }} }}", None) is None


def test_cached_sealed_ids_are_the_codecs_own_and_never_another_keys() -> None:
    document = "subscription { balanceChanged { entry { id } } }"
    plan = Plans(SCHEMA, LIVE_FIELDS).get(document, None)
    assert plan is not None and plan.direct is not None
    message = _balance_message(False)
    seen = []
    for secret in (b"one key", b"another key", b"one key"):
        codec = IdCodec(secret)
        ids.use(codec)
        entry_id = json.loads(plan.direct_data(message))["data"]["balanceChanged"]["entry"]["id"]
        assert entry_id == codec.encode(relay.GlobalID("PointsTransaction", "41"))
        seen.append(entry_id)
    assert seen[0] == seen[2] != seen[1]
