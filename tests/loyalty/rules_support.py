"""Shortcuts for the tests of programme rules: a programme in Europe/Amsterdam built from a
few settings, members, purchases, returns, events, spending and tier recalculation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty import jobs
from loyalty.core.clock import FixedClock
from loyalty.points import ledger
from loyalty.points.balances import Balance, balance
from loyalty.points.models import Purchase
from loyalty.points.service import (
    EventInput,
    MemberRef,
    PointsService,
    PurchaseInput,
    PurchaseLine,
    ReturnInput,
    ReturnLine,
    ReturnResult,
)
from loyalty.programme import parse_programme, store
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers
from tests.loyalty.services import add_member

HEADER = """\
programme:
  key: winkel
  name: Winkel
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
earning:
  base:
    points_per_unit: 10
"""

LEVELS = """\
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: zilver, name: Zilver, threshold: 1000}
    - {key: goud, name: Goud, threshold: 3000}
"""


def tiers_programme(settings: str = "", points: str = "") -> str:
    """Ten points a euro; tiers at 1000 and 3000 with `settings` (indented lines)."""
    section = f"points:\n{points}" if points else ""
    return f"{HEADER}{section}tiers:\n{settings}{LEVELS}"


async def install(db: Database, clock: FixedClock, text: str) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(text), clock.now())
        await uow.commit()
    store._known.clear()


async def member(db: Database, clock: FixedClock, name: str = "anna") -> int:
    return (await add_member(db, clock, f"{name}@example.com")).id


def line(sku: str, price: str, quantity: str = "1") -> PurchaseLine:
    return PurchaseLine(sku, Decimal(quantity), Decimal(price))


async def buy(
    service: PointsService,
    member_id: int,
    external_id: str,
    *lines: PurchaseLine,
    at: datetime | None = None,
) -> Purchase:
    result = await service.record_purchase(
        PurchaseInput(MemberRef(member_id=member_id), external_id, lines, occurred_at=at)
    )
    return result.purchase


async def give_back(
    service: PointsService, purchase: str, external_id: str, *lines: ReturnLine, **kw: Any
) -> ReturnResult:
    amount = kw.get("amount")
    return await service.record_return(
        ReturnInput(purchase, external_id, lines, Decimal(amount) if amount else None)
    )


def back(sku: str, quantity: str = "1") -> ReturnLine:
    return ReturnLine(sku, Decimal(quantity))


async def event(
    service: PointsService,
    member_id: int,
    external_id: str,
    name: str,
    at: datetime | None = None,
    **properties: Any,
) -> int:
    result = await service.record_event(
        EventInput(MemberRef(member_id=member_id), external_id, name, at, properties)
    )
    return result.points_awarded


async def spend(db: Database, clock: FixedClock, member_id: int, points: int) -> None:
    async with db.unit_of_work() as uow:
        account = await ledger.lock_account(uow.session, member_id, clock.now())
        await ledger.spend(
            uow.session, account, points, now=clock.now(), meta=ledger.EntryMeta("A reward")
        )
        await uow.commit()


async def points_of(db: Database, clock: FixedClock, member_id: int) -> Balance:
    async with db.unit_of_work(write=False) as uow:
        return await balance(uow.session, member_id, clock.now())


async def level(service: PointsService, member_id: int) -> str:
    async with service.db.unit_of_work(write=False) as uow:
        file = await store.current_file(uow.session)
        found = await tiers.status(uow.session, member_id, file, service.clock.now())
    assert found is not None
    return found.level.key


async def qualifying(service: PointsService, member_id: int) -> int:
    async with service.db.unit_of_work(write=False) as uow:
        file = await store.current_file(uow.session)
        found = await tiers.status(uow.session, member_id, file, service.clock.now())
    assert found is not None
    return found.qualifying


async def recalculate(db: Database, clock: FixedClock) -> int:
    return await jobs.recalculate_tiers(db, clock.now())
