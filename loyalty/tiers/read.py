"""Reads of tiers for the API: where members stand, many at once.

Each call is one short read-only transaction that changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select

from loyalty.core.clock import Clock
from loyalty.programme.store import current_file
from loyalty.storage import direct
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers
from loyalty.tiers.models import MemberTier

# Built once: the home screen reads the member's tier row on every request, as columns on
# the direct path rather than as an ORM object (nothing here changes it).
_ROW = select(
    MemberTier.member_id,
    MemberTier.tier,
    MemberTier.since,
    MemberTier.floor_tier,
    MemberTier.floor_until,
).where(MemberTier.member_id == bindparam("member"))


class TierReads:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def statuses(self, member_ids: Sequence[int]) -> list[tiers.TierStatus | None]:
        """Each member's tier and progress; None when the programme has no tiers."""
        now = self._clock.now()
        async with self._db.unit_of_work(write=False) as uow:
            s = uow.session
            file = await current_file(s)
            if file.tiers is None:
                return [None for _ in member_ids]
            return [
                await tiers.status_of(s, i, file, now, await direct.first(s, _ROW, {"member": i}))
                for i in member_ids
            ]
