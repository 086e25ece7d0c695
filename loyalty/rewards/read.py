"""Reads of rewards for the API: rewards and redemptions by id, members' catalogues.

Each call is one short read-only transaction that changes nothing (a catalogue is the
service's own read); batch reads answer in the order asked for, as DataLoaders need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select

from loyalty.rewards.models import Redemption, Reward
from loyalty.rewards.service import RewardsService, RewardView
from loyalty.storage.database import Database

Row = TypeVar("Row", Reward, Redemption)


class RewardReads:
    def __init__(self, db: Database, rewards: RewardsService) -> None:
        self._db = db
        self._rewards = rewards

    async def rewards(self, ids: Sequence[int]) -> list[Reward | None]:
        return await self._by_id(Reward, ids)

    async def redemptions(self, ids: Sequence[int]) -> list[Redemption | None]:
        return await self._by_id(Redemption, ids)

    async def catalogue(self, member_id: int | None) -> list[RewardView]:
        """The rewards on show now, as this member (or anyone, for None) sees them."""
        return await self._rewards.catalogue(member_id)

    async def catalogues(self, member_ids: Sequence[int]) -> list[dict[int, RewardView]]:
        """Each member's catalogue, by reward id."""
        return [
            {view.reward.id: view for view in await self._rewards.catalogue(member_id)}
            for member_id in member_ids
        ]

    async def _by_id(self, model: type[Row], ids: Sequence[int]) -> list[Row | None]:
        async with self._db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(select(model).where(model.id.in_(ids)))
            found = {r.id: r for r in rows}
        return [found.get(i) for i in ids]
