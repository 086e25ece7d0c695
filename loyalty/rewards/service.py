"""The rewards catalogue and redemptions, as one service: spending points on a reward for a
code that a till takes once, and cancelling an unused code for the points back.

Each use case lives in a module of its own (`catalogue`, `redemption`, `till`,
`cancellation`, with the shared `rules` and `codes`); this facade gives them the database and
the clock.
"""

from __future__ import annotations

from sqlalchemy import select

from loyalty.core.clock import Clock
from loyalty.rewards import cancellation, catalogue, redemption, till
from loyalty.rewards.catalogue import RewardView, sync_rewards
from loyalty.rewards.codes import new_code, normalise_code
from loyalty.rewards.models import Redemption
from loyalty.rewards.redemption import RedeemResult
from loyalty.storage.database import Database

__all__ = [
    "RedeemResult",
    "RewardView",
    "RewardsService",
    "new_code",
    "normalise_code",
    "sync_rewards",
]


class RewardsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def catalogue(self, member_id: int | None) -> list[RewardView]:
        """The rewards on show now, in programme-file order, with what this member can do."""
        async with self.db.unit_of_work(write=False) as uow:
            return await catalogue.catalogue(uow.session, member_id, self.clock.now())

    async def redeem(self, member_id: int, reward_id: int, idempotency_key: str) -> RedeemResult:
        """Spend the reward's points for a fresh code, or fail with the first check that does
        not pass. The same key for the same member and reward returns the first result."""
        key = redemption.idempotency_key(member_id, idempotency_key)
        return await redemption.redeem(self.db, self.clock, member_id, reward_id, key)

    async def redeem_code(self, code: str, actor: str) -> Redemption:
        """The till takes a code: valid once, before it expires, unless cancelled."""
        return await till.redeem_code(self.db, code, actor, self.clock.now())

    async def cancel(
        self, redemption_id: int, *, member_id: int | None, actor: str | None
    ) -> Redemption:
        """Cancel an unused code: the points go back to the lots they came from (keeping their
        expiry) and the stock is released. A member may cancel only their own (member_id
        given); staff may cancel any (member_id None)."""
        return await cancellation.cancel(
            self.db, redemption_id, member_id=member_id, actor=actor, now=self.clock.now()
        )

    async def redemptions(
        self, member_id: int, limit: int, after_id: int | None
    ) -> list[Redemption]:
        """The member's redemptions, newest first; `after_id` continues after that one."""
        if limit <= 0:
            return []
        query = select(Redemption).where(Redemption.member_id == member_id)
        if after_id is not None:
            query = query.where(Redemption.id < after_id)
        async with self.db.unit_of_work(write=False) as uow:
            return list(
                await uow.session.scalars(query.order_by(Redemption.id.desc()).limit(limit))
            )
