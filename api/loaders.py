"""Per-request DataLoaders: one query per kind of thing, however many members a query lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from api.notifications.loaders import NotificationLoaders
from loyalty.core.clock import Clock
from loyalty.members import service as members
from loyalty.members.models import Member, MemberConsent
from loyalty.points import ledger
from loyalty.points.models import LedgerEntry, Purchase
from loyalty.programme.store import current_file
from loyalty.rewards.models import Redemption, Reward
from loyalty.rewards.service import RewardsService, RewardView
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers

T = TypeVar("T")


class Loaders:
    """`cache=False` for websocket connections, whose context outlives any one operation:
    there a loader only batches, it must not serve yesterday's balance."""

    def __init__(self, db: Database, clock: Clock, *, cache: bool = True) -> None:
        self._db = db
        self._clock = clock
        self.member = DataLoader[int, Member | None](load_fn=self._members, cache=cache)
        self.consents = DataLoader[int, list[MemberConsent]](load_fn=self._consents, cache=cache)
        self.balance = DataLoader[int, ledger.Balance](load_fn=self._balances, cache=cache)
        self.tier = DataLoader[int, tiers.TierStatus | None](load_fn=self._tiers, cache=cache)
        self.entry = DataLoader[int, LedgerEntry | None](load_fn=self._entries, cache=cache)
        self.purchase = DataLoader[int, Purchase | None](load_fn=self._purchases, cache=cache)
        self.reward = DataLoader[int, Reward | None](
            load_fn=lambda ids: self._by_id(Reward, ids), cache=cache
        )
        self.redemption = DataLoader[int, Redemption | None](
            load_fn=lambda ids: self._by_id(Redemption, ids), cache=cache
        )
        self.notifications = NotificationLoaders(db, cache=cache)
        # The rewards catalogue as one member sees it, by reward id.
        self.catalogue = DataLoader[int, dict[int, RewardView]](
            load_fn=self._catalogues, cache=cache
        )

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

    async def _balances(self, member_ids: Sequence[int]) -> list[ledger.Balance]:
        async with self._db.unit_of_work(write=False) as uow:
            file = await current_file(uow.session)
            found = await ledger.balances(
                uow.session,
                member_ids,
                self._clock.now(),
                warn_days=file.points.expiry.warn_days_before,
            )
        return [found[i] for i in member_ids]

    async def _tiers(self, member_ids: Sequence[int]) -> list[tiers.TierStatus | None]:
        now = self._clock.now()
        async with self._db.unit_of_work(write=False) as uow:
            file = await current_file(uow.session)
            return [await tiers.status(uow.session, i, file, now) for i in member_ids]

    async def _catalogues(self, member_ids: Sequence[int]) -> list[dict[int, RewardView]]:
        rewards = RewardsService(self._db, self._clock)
        return [
            {view.reward.id: view for view in await rewards.catalogue(member_id)}
            for member_id in member_ids
        ]

    async def _entries(self, ids: Sequence[int]) -> list[LedgerEntry | None]:
        return await self._by_id(LedgerEntry, ids)

    async def _purchases(self, ids: Sequence[int]) -> list[Purchase | None]:
        return await self._by_id(Purchase, ids)

    async def _by_id(self, model: type[T], ids: Sequence[int]) -> list[T | None]:
        async with self._db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(select(model).where(model.id.in_(ids)))  # type: ignore[attr-defined]
            found = {r.id: r for r in rows}  # type: ignore[attr-defined]
        return [found.get(i) for i in ids]
