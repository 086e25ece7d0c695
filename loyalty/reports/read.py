"""Reads of reports for the API: figures for programme managers, computed now.

Each call is one short read-only transaction that changes nothing.
"""

from __future__ import annotations

from loyalty.core.clock import Clock
from loyalty.reports.liability import Liability, liability
from loyalty.storage.database import Database


class ReportReads:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def liability(self) -> Liability:
        """Outstanding points and what they are worth."""
        async with self._db.unit_of_work(write=False) as uow:
            return await liability(uow.session, self._clock.now())
