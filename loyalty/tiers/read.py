"""Reads of tiers for the API: where members stand, many at once.

Each call is one short read-only transaction that changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from loyalty.core.clock import Clock
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers


class TierReads:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def statuses(self, member_ids: Sequence[int]) -> list[tiers.TierStatus | None]:
        """Each member's tier and progress; None when the programme has no tiers."""
        now = self._clock.now()
        async with self._db.unit_of_work(write=False) as uow:
            file = await current_file(uow.session)
            return [await tiers.status(uow.session, i, file, now) for i in member_ids]
