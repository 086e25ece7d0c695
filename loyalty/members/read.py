"""Reads of members for the API: batches by id, their consents, a card lookup and the list.

Each call is one short read-only transaction that changes nothing; batch reads answer in the
order of the ids asked for (None where there is no such member), as DataLoaders need.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from loyalty.members import service as members
from loyalty.members.models import Member, MemberConsent
from loyalty.storage.database import Database


class MemberReads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[int]) -> list[Member | None]:
        async with self._db.unit_of_work(write=False) as uow:
            found = {m.id: m for m in await members.members_by_ids(uow.session, ids)}
        return [found.get(i) for i in ids]

    async def consents_of(self, member_ids: Sequence[int]) -> list[list[MemberConsent]]:
        """Each member's consents, by channel."""
        async with self._db.unit_of_work(write=False) as uow:
            rows = await members.consents_for(uow.session, member_ids)
        grouped: dict[int, list[MemberConsent]] = defaultdict(list)
        for row in rows:
            grouped[row.member_id].append(row)
        return [grouped[i] for i in member_ids]

    async def by_card(self, barcode_message: str) -> Member | None:
        async with self._db.unit_of_work(write=False) as uow:
            return await members.member_by_card(uow.session, barcode_message)

    async def oldest_first(self, limit: int, after_id: int | None = None) -> list[Member]:
        """Up to `limit` members in joining order, after the member `after_id` if given."""
        query = select(Member).order_by(Member.id).limit(limit)
        if after_id is not None:
            query = query.where(Member.id > after_id)
        async with self._db.unit_of_work(write=False) as uow:
            return list(await uow.session.scalars(query))
