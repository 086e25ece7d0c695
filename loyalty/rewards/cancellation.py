"""Cancelling an unused code: the points go back to the lots they came from (keeping their
expiry) and the stock is released."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError, NotFound
from loyalty.core.events import RewardCancelled
from loyalty.core.outbox import emit
from loyalty.points import balances, ledger
from loyalty.points.models import LedgerEntry, PointAccount
from loyalty.rewards import rules
from loyalty.rewards.errors import RewardsError
from loyalty.rewards.models import Redemption, Reward
from loyalty.storage.database import Database


async def cancel(
    db: Database, redemption_id: int, *, member_id: int | None, actor: str | None, now: datetime
) -> Redemption:
    """A member may cancel only their own (member_id given); staff may cancel any (member_id
    None)."""
    async with db.unit_of_work() as uow:
        s = uow.session
        redemption = await s.get(Redemption, redemption_id)
        if redemption is None or (member_id is not None and redemption.member_id != member_id):
            raise NotFound("Redemption", "redemptionId")
        account = await ledger.lock_account(s, redemption.member_id, now)
        await _mark_cancelled(s, redemption, now)
        await s.execute(
            update(Reward)
            .where(Reward.id == redemption.reward_id, Reward.issued > 0)
            .values(issued=Reward.issued - 1)
            .execution_options(synchronize_session=False)
        )
        who = actor or ("member" if member_id is not None else None)
        entry = await _give_back(s, account, redemption, who, now)
        emit(
            s,
            RewardCancelled(
                member_id=redemption.member_id,
                redemption_id=redemption.id,
                reward_id=redemption.reward_id,
                points=redemption.points,
            ),
            now,
        )
        await balances.balance_event(s, redemption.member_id, [entry], now)
        await uow.commit()
    return redemption


async def _mark_cancelled(s: AsyncSession, redemption: Redemption, now: datetime) -> None:
    # A till does not take the account lock: the status decides who wins.
    cancelled = await s.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.status == rules.ISSUED)
        .values(status=rules.CANCELLED, cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    await s.refresh(redemption)
    if rules.rowcount(cancelled) != 1:
        raise DomainError(
            RewardsError.NOT_CANCELLABLE,
            f"This code is {redemption.status} and cannot be cancelled",
            "redemptionId",
        )


async def _give_back(
    s: AsyncSession,
    account: PointAccount,
    redemption: Redemption,
    actor: str | None,
    now: datetime,
) -> LedgerEntry:
    spent = await s.get(LedgerEntry, redemption.spend_entry_id)
    assert spent is not None
    return await ledger.restore(
        s,
        account,
        spent,
        now=now,
        meta=ledger.EntryMeta(
            "Reward cancelled: points back",
            source_type="redemption",
            source_id=redemption.id,
            actor=actor,
        ),
    )
