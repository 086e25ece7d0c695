"""Reads of points for the API: balances of many members at once, entries and purchases by id.

Each call is one short read-only transaction that changes nothing; batch reads answer in the
order asked for (None where there is no such row), as DataLoaders need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select

from loyalty.core.clock import Clock
from loyalty.points.balances import Balance
from loyalty.points.balances import balances as balances_at
from loyalty.points.models import LedgerEntry, Purchase
from loyalty.programme.store import current_file
from loyalty.storage.database import Database

Row = TypeVar("Row", LedgerEntry, Purchase)


class PointsReads:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def balances(self, member_ids: Sequence[int]) -> list[Balance]:
        """Each member's points now, with the programme's expiry warning period."""
        async with self._db.unit_of_work(write=False) as uow:
            file = await current_file(uow.session)
            found = await balances_at(
                uow.session,
                member_ids,
                self._clock.now(),
                warn_days=file.points.expiry.warn_days_before,
            )
        return [found[i] for i in member_ids]

    async def entries(self, ids: Sequence[int]) -> list[LedgerEntry | None]:
        return await self._by_id(LedgerEntry, ids)

    async def purchases(self, ids: Sequence[int]) -> list[Purchase | None]:
        return await self._by_id(Purchase, ids)

    async def _by_id(self, model: type[Row], ids: Sequence[int]) -> list[Row | None]:
        async with self._db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(select(model).where(model.id.in_(ids)))
            found = {r.id: r for r in rows}
        return [found.get(i) for i in ids]
