"""Redeeming a reward: points spent for a fresh code, once per idempotency key.

The checks run in a fixed order, one step each, and the first that fails decides the code:
the reward is active and on show → global stock → the member's limit → the member may spend
(active, the tier the reward asks for) → enough points. The member's account is locked first
(as for every balance change) and stock is reserved with one conditional UPDATE, so neither
points nor stock can be handed out twice however many requests arrive at once; a later
failure rolls the reservation back with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import CoreError, DomainError, NotFound
from loyalty.core.events import RewardRedeemed
from loyalty.core.identifiers import client_key
from loyalty.core.outbox import emit
from loyalty.members.models import Member
from loyalty.points import balances, ledger
from loyalty.points.models import LedgerEntry, PointAccount
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.rewards import rules
from loyalty.rewards.codes import new_code
from loyalty.rewards.errors import RewardsError
from loyalty.rewards.models import Redemption, Reward
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers


@dataclass(frozen=True)
class RedeemResult:
    redemption: Redemption
    reward: Reward
    balance: balances.Balance  # the member's balance now (after the spend)
    replayed: bool  # True when the idempotency key had already been used for this redemption


def idempotency_key(member_id: int, value: str) -> str:
    """Keys belong to their member: another member's key is neither a conflict nor a hint."""
    key = client_key(value, "idempotencyKey", RewardsError.INVALID_IDEMPOTENCY_KEY, max_length=160)
    return f"{member_id}:{key}"


def _conflict() -> DomainError:
    return DomainError(
        CoreError.IDEMPOTENCY_CONFLICT,
        "This idempotencyKey was already used for another redemption",
        "idempotencyKey",
    )


async def redeem(
    db: Database, clock: Clock, member_id: int, reward_id: int, key: str
) -> RedeemResult:
    """Spend the reward's points for a fresh code, or fail with the first check that does
    not pass. The same key for the same member and reward returns the first result."""
    try:
        return await _redeem(db, clock, member_id, reward_id, key)
    except IntegrityError:
        # Another member's request used the same key at the same moment (requests of one
        # member are serialised by the account lock and see each other's redemption).
        async with db.unit_of_work(write=False) as uow:
            existing = await uow.session.scalar(
                select(Redemption).where(Redemption.idempotency_key == key)
            )
            if existing is None:
                raise
            if not _same(existing, member_id, reward_id):
                raise _conflict() from None
            return await _replay(uow.session, clock, existing)


def _same(existing: Redemption, member_id: int, reward_id: int) -> bool:
    return existing.member_id == member_id and existing.reward_id == reward_id


async def _replay(s: AsyncSession, clock: Clock, existing: Redemption) -> RedeemResult:
    reward = await s.get(Reward, existing.reward_id)
    assert reward is not None
    balance = await _balance(s, clock, existing.member_id, await current_file(s))
    return RedeemResult(existing, reward, balance, replayed=True)


async def _balance(
    s: AsyncSession, clock: Clock, member_id: int, file: ProgrammeFile
) -> balances.Balance:
    return await balances.balance(
        s, member_id, clock.now(), warn_days=file.points.expiry.warn_days_before
    )


async def _redeem(
    db: Database, clock: Clock, member_id: int, reward_id: int, key: str
) -> RedeemResult:
    now = clock.now()
    async with db.unit_of_work() as uow:
        s = uow.session
        member = await s.get(Member, member_id)
        if member is None:
            raise NotFound("Member", "member")
        account = await ledger.lock_account(s, member_id, now)
        await s.refresh(member)
        existing = await s.scalar(select(Redemption).where(Redemption.idempotency_key == key))
        if existing is not None:
            if not _same(existing, member_id, reward_id):
                raise _conflict()
            return await _replay(s, clock, existing)
        reward = await _on_show(s, reward_id, now)
        await _reserve_stock(s, reward)
        file = await current_file(s)
        await _check_limit(s, member_id, reward, file, now)
        await _check_may_spend(s, member, reward, file, now)
        entry = await _spend(s, account, reward, now)
        redemption = await _issue(s, entry, reward, key, now)
        await balances.balance_event(s, member_id, [entry], now)
        balance = await _balance(s, clock, member_id, file)
        await uow.commit()
    return RedeemResult(redemption, reward, balance, replayed=False)


async def _on_show(s: AsyncSession, reward_id: int, now: datetime) -> Reward:
    """1. The reward exists, is active and is on show now."""
    reward = await s.scalar(
        select(Reward).where(Reward.id == reward_id).execution_options(populate_existing=True)
    )
    if reward is None or not rules.is_visible(reward, now):
        raise DomainError(
            RewardsError.REWARD_NOT_AVAILABLE, "This reward cannot be redeemed now", "rewardId"
        )
    return reward


async def _reserve_stock(s: AsyncSession, reward: Reward) -> None:
    """2. Stock: reserved here, released by the rollback if a later check fails."""
    reserved = await s.execute(
        update(Reward)
        .where(Reward.id == reward.id, or_(Reward.stock.is_(None), Reward.issued < Reward.stock))
        .values(issued=Reward.issued + 1)
        .execution_options(synchronize_session=False)
    )
    if rules.rowcount(reserved) != 1:
        raise DomainError(RewardsError.OUT_OF_STOCK, "This reward is out of stock", "rewardId")
    await s.refresh(reward)


async def _check_limit(
    s: AsyncSession, member_id: int, reward: Reward, file: ProgrammeFile, now: datetime
) -> None:
    """3. The member's limit for this reward in its period."""
    used = await rules.used(s, member_id, [reward], now, file.programme.zone)
    if not rules.within_limit(reward, used):
        per = reward.per_member_period or "ever"
        raise DomainError(
            RewardsError.LIMIT_REACHED,
            f"This reward can be redeemed {reward.per_member_count} time(s) "
            + ("in total" if per == "ever" else f"per {per}"),
            "rewardId",
        )


async def _check_may_spend(
    s: AsyncSession, member: Member, reward: Reward, file: ProgrammeFile, now: datetime
) -> None:
    """4. The member may spend, and has the tier the reward asks for."""
    if member.status != "active":
        raise DomainError(
            RewardsError.MEMBER_NOT_ACTIVE, "This member is blocked or closed", "member"
        )
    if reward.tiers:
        level = await tiers.current_level(s, member.id, file, now)
        if not rules.tier_allows(reward, level.key if level else None):
            raise DomainError(
                RewardsError.TIER_REQUIRED,
                "This reward is for members of a higher tier",
                "rewardId",
            )


async def _spend(
    s: AsyncSession, account: PointAccount, reward: Reward, now: datetime
) -> LedgerEntry:
    """5. Enough points: spent here, or INSUFFICIENT_POINTS from the ledger."""
    return await ledger.spend(
        s,
        account,
        reward.points_cost,
        now=now,
        meta=ledger.EntryMeta(f"Redeemed: {reward.name}", source_type="redemption", actor="member"),
    )


async def _issue(
    s: AsyncSession, entry: LedgerEntry, reward: Reward, key: str, now: datetime
) -> Redemption:
    """A fresh code for the points the entry spent."""
    redemption = Redemption(
        member_id=entry.member_id,
        reward_id=reward.id,
        code=new_code(),
        status=rules.ISSUED,
        points=reward.points_cost,
        spend_entry_id=entry.id,
        idempotency_key=key,
        created_at=now,
        expires_at=now + timedelta(days=reward.code_valid_days),
        redeemed_at=None,
        redeemed_by=None,
        cancelled_at=None,
    )
    s.add(redemption)
    await s.flush()
    # The entry is written in this same transaction; it names its redemption.
    entry.source_id = redemption.id
    emit(
        s,
        RewardRedeemed(
            member_id=entry.member_id,
            redemption_id=redemption.id,
            reward_id=reward.id,
            reward_key=reward.key,
            points=redemption.points,
            expires_at=redemption.expires_at,
        ),
        now,
    )
    return redemption
