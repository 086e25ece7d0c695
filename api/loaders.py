"""Per-request DataLoaders: one query per kind of thing, however many members a query lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from loyalty import members
from loyalty.storage.database import Database
from loyalty.storage.models import Member, MemberConsent


class Loaders:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.member = DataLoader[int, Member | None](load_fn=self._members)
        self.consents = DataLoader[int, list[MemberConsent]](load_fn=self._consents)

    async def _members(self, ids: Sequence[int]) -> list[Member | None]:
        async with self._db.unit_of_work(write=False) as uow:
            found = {m.id: m for m in await members.members_by_ids(uow.session, ids)}
        return [found.get(i) for i in ids]

    async def _consents(self, member_ids: Sequence[int]) -> list[list[MemberConsent]]:
        async with self._db.unit_of_work(write=False) as uow:
            rows = await members.consents_for(uow.session, member_ids)
        grouped: dict[int, list[MemberConsent]] = defaultdict(list)
        for row in rows:
            grouped[row.member_id].append(row)
        return [grouped[i] for i in member_ids]
