"""Use cases that change points, as one service: purchases, returns, events and manual
adjustments. Each lives in a module of its own (`purchases`, `returns`, `activities`,
`adjustments`); this facade gives them the database and the clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from loyalty.core.clock import Clock
from loyalty.points import adjustments, balances, earning, purchases, returns
from loyalty.points.activities import (
    Activity,
    EventInput,
    EventResult,
    record_activity,
    record_event,
)
from loyalty.points.balances import Balance, balance_event
from loyalty.points.models import LedgerEntry, PointAccount
from loyalty.points.purchases import PurchaseInput, PurchaseLine, PurchaseResult, basket
from loyalty.points.refs import MemberRef, resolve_member, when
from loyalty.points.returns import ReturnInput, ReturnLine, ReturnResult
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers

__all__ = [
    "Activity",
    "EventInput",
    "EventResult",
    "MemberRef",
    "PointsService",
    "PurchaseInput",
    "PurchaseLine",
    "PurchaseResult",
    "ReturnInput",
    "ReturnLine",
    "ReturnResult",
    "balance_event",
    "basket",
    "record_activity",
    "resolve_member",
]


class PointsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def preview_purchase(
        self, ref: MemberRef | None, lines: Sequence[PurchaseLine], at: datetime | None = None
    ) -> list[earning.Award]:
        """What a basket would earn now, changing nothing (the till's dry run)."""
        items = basket(lines)
        return await purchases.preview(self.db, ref, items, when(at, self.clock.now()))

    async def record_purchase(
        self, data: PurchaseInput, actor: str | None = None
    ) -> PurchaseResult:
        return await purchases.record_purchase(self.db, data, self.clock.now(), actor)

    async def record_return(self, data: ReturnInput, actor: str | None = None) -> ReturnResult:
        return await returns.record_return(self.db, data, self.clock.now(), actor)

    async def record_event(self, data: EventInput, actor: str | None = None) -> EventResult:
        return await record_event(self.db, data, self.clock.now(), actor)

    async def adjust(
        self,
        ref: MemberRef,
        points: int,
        reason: str,
        *,
        actor: str,
        idempotency_key: str | None = None,
    ) -> tuple[LedgerEntry, bool]:
        """A manual correction by staff, with the reason and who made it."""
        return await adjustments.adjust(
            self.db,
            ref,
            points,
            reason,
            actor=actor,
            idempotency_key=idempotency_key,
            now=self.clock.now(),
        )

    async def set_tier_floor(
        self, ref: MemberRef, tier: str, until: datetime | None
    ) -> tiers.TierStatus | None:
        """Staff give a member at least `tier` until `until`."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            member = await resolve_member(s, ref)
            file = await current_file(s)
            await tiers.set_floor(s, member.id, file, tier, until, now)
            status = await tiers.status(s, member.id, file, now)
            await uow.commit()
        return status

    async def history(
        self, member_id: int, limit: int, before_id: int | None = None
    ) -> list[LedgerEntry]:
        """The member's entries, newest first; `before_id` continues after that entry."""
        query = select(LedgerEntry).where(LedgerEntry.member_id == member_id)
        if before_id is not None:
            query = query.where(LedgerEntry.id < before_id)
        async with self.db.unit_of_work(write=False) as uow:
            return list(
                await uow.session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit))
            )

    async def balance(self, member_id: int) -> Balance:
        async with self.db.unit_of_work(write=False) as uow:
            file = await current_file(uow.session)
            return await balances.balance(
                uow.session,
                member_id,
                self.clock.now(),
                warn_days=file.points.expiry.warn_days_before,
            )

    async def account(self, member_id: int) -> PointAccount | None:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.session.get(PointAccount, member_id)
