"""What the referral tests share: a programme with referrals, members signing up with codes,
a till, and running the rewards job at a later moment."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import text

from loyalty.core.clock import FixedClock
from loyalty.demo.data import DEMO_PROGRAMME
from loyalty.jobs import run_jobs
from loyalty.storage.database import Database
from tests.api.helpers import api_key
from tests.contract.operations import operation
from tests.support.data import install
from tests.support.flows import STRONG_PASSWORD
from tests.support.server import GraphQLClient, ServerHandle

REFERRAL = operation("member-app/referral-wallet-inbox.graphql", "Referral")
HELD = operation("admin/surveys-referrals.graphql", "HeldReferrals")
REVIEW = operation("admin/surveys-referrals.graphql", "ReviewReferral")
RECORD_PURCHASE = operation("pos/pos.graphql", "RecordPurchase")
RECORD_RETURN = operation("pos/pos.graphql", "RecordReturn")
SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    member { id memberNumber }
    session { accessToken }
    userErrors { field message code }
    notices { field message code }
  }
}"""
BONUSES = "{ me { transactions(first: 50) { edges { node { kind points } } } } }"
REFERRER_POINTS, FRIEND_POINTS = 250, 150
WINDOW = timedelta(days=14)
_serial = itertools.count(1)


def programme(**referrals: Any) -> str:
    """The demo programme with its referrals section changed by `referrals`; the client
    address velocity is off (every test client is 127.0.0.1)."""
    data = yaml.safe_load(DEMO_PROGRAMME.read_text(encoding="utf-8"))
    section = data["referrals"]
    section["fraud"]["max_sign_ups_per_client"] = 10_000
    for key, value in referrals.items():
        if isinstance(value, dict) and isinstance(section.get(key), dict):
            section[key] = {**section[key], **value}
        else:
            section[key] = value
    return str(yaml.safe_dump(data, allow_unicode=True))


@dataclass
class Joined:
    member_id: str
    member_number: str
    client: GraphQLClient
    notices: list[dict[str, Any]]

    def referral(self) -> dict[str, Any]:
        return dict(self.client.data(REFERRAL)["me"]["referral"])

    def bonuses(self) -> list[int]:
        edges = self.client.data(BONUSES)["me"]["transactions"]["edges"]
        return [e["node"]["points"] for e in edges if e["node"]["kind"] == "BONUS"]


@dataclass
class Shop:
    server: ServerHandle
    database_url: str
    clock: FixedClock
    till: GraphQLClient
    office: GraphQLClient
    ahead: timedelta = timedelta(0)

    def join(self, email: str, code: str | None = None, **more: Any) -> Joined:
        values = {"email": email, "password": STRONG_PASSWORD, **more}
        if code is not None:
            values["referralCode"] = code
        payload = self.server.client().data(SIGN_UP, {"input": values})["signUp"]
        assert payload["userErrors"] == [], payload["userErrors"]
        member = payload["member"]
        client = self.server.client(payload["session"]["accessToken"])
        return Joined(member["id"], member["memberNumber"], client, payload["notices"])

    def buy(
        self, who: Joined, amount: str, external_id: str | None = None, card: str | None = None
    ) -> dict[str, Any]:
        """A sale at the till; `card`: the payment token the till sends (optional)."""
        values = purchase(who, amount, external_id or f"sale-{next(_serial)}")
        if card is not None:
            values["paymentFingerprint"] = card
        result = self.till.data(RECORD_PURCHASE, {"input": values})["recordPurchase"]
        assert result["userErrors"] == [], result["userErrors"]
        return dict(result)

    def give_back(self, purchase_id: str, amount: str) -> dict[str, Any]:
        variables = {
            "input": {
                "purchaseExternalId": purchase_id,
                "externalId": f"return-{next(_serial)}",
                "amount": amount,
            }
        }
        result = self.till.data(RECORD_RETURN, variables)["recordReturn"]
        assert result["userErrors"] == [], result["userErrors"]
        return dict(result)

    def later(self, by: timedelta) -> None:
        """Move the rewards job's time on (the server's stays, so that sessions stay valid)."""
        self.ahead += by

    def run_rewards(self) -> int:
        """The rewards job, `ahead` of the server's clock; how many referrals were due."""
        return run_rewards(self.database_url, self.clock.now() + self.ahead)

    def held(self) -> list[dict[str, Any]]:
        edges = self.office.data(HELD, {"first": 50})["heldReferrals"]["edges"]
        return [e["node"] for e in edges]

    def review(self, referral_id: str, decision: str) -> dict[str, Any]:
        variables = {"input": {"referralId": referral_id, "decision": decision}}
        return dict(self.office.data(REVIEW, variables)["reviewReferral"])

    def sql(self, statement: str) -> list[Any]:
        return sql(self.database_url, statement)


def purchase(who: Joined, amount: str, external_id: str) -> dict[str, Any]:
    return {
        "member": {"memberNumber": who.member_number},
        "externalId": external_id,
        "lines": [{"sku": "taart", "quantity": "1", "unitPrice": amount, "category": "gebak"}],
    }


def run_rewards(database_url: str, now: datetime) -> int:
    async def run() -> int:
        db = Database(database_url)
        try:
            return (await run_jobs(db, FixedClock(now), ["referrals"]))["referrals"]
        finally:
            await db.dispose()

    return asyncio.run(run())


def sql(database_url: str, statement: str) -> list[Any]:
    async def run() -> list[Any]:
        db = Database(database_url)
        try:
            async with db.unit_of_work(write=False) as uow:
                return list((await uow.session.execute(text(statement))).all())
        finally:
            await db.dispose()

    return asyncio.run(run())


def open_shop(server: ServerHandle, database_url: str, clock: FixedClock, **spec: Any) -> Shop:
    install(database_url, programme(**spec))
    now = clock.now()
    till = server.client(api_key(database_url, ["pos"], now, "Till 1"))
    office = server.client(api_key(database_url, ["admin"], now, "Back office"))
    return Shop(server, database_url, clock, till, office)
