"""Giving a qualified referral's rewards once its return window has passed: the friend's and
the referrer's, each exactly once.

One transaction per referral. A conditional UPDATE moves it from qualified to rewarded, so of
any number of workers (or retries) exactly one goes on; the reward rows' primary key
(referral, side) and the ledger entries' idempotency keys say the same a second time. Both
members' point accounts are locked (in id order) before the referrer's cap is counted, so two
referrals of one member at once cannot both pass a cap with one place left; the budget is
taken from one totals row by a conditional UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import ReferralRewarded
from loyalty.core.outbox import emit
from loyalty.offers.gifts import give_offer
from loyalty.points import ledger
from loyalty.points.balances import balance_event
from loyalty.points.earning import period_start
from loyalty.points.timeline import expiry_of
from loyalty.programme.referrals_spec import ReferralReward as RewardSpec
from loyalty.programme.referrals_spec import ReferralsSpec
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.referrals.models import Referral, ReferralReward, ReferralTotals
from loyalty.referrals.qualifying import QUALIFIED, _rowcount
from loyalty.storage.database import insert_for

if TYPE_CHECKING:
    from loyalty.points.models import PointAccount

REWARDED = "rewarded"
GRANTED, SKIPPED = "granted", "skipped"
REFERRER, FRIEND = "referrer", "friend"
CAP_REACHED, BUDGET_EXHAUSTED, CLOSED = "CAP_REACHED", "BUDGET_EXHAUSTED", "REFERRALS_CLOSED"


@dataclass(frozen=True)
class Side:
    name: str
    member_id: int
    reward: RewardSpec | None


async def grant(s: AsyncSession, referral_id: int, now: datetime) -> bool:
    """Give the rewards of one due referral; False when it was not (or no longer) due."""
    won = await s.execute(
        update(Referral)
        .where(
            Referral.id == referral_id,
            Referral.state == QUALIFIED,
            Referral.rewards_due_at <= now,
        )
        .values(state=REWARDED, rewarded_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(won) != 1:
        return False
    row = await s.get(Referral, referral_id, populate_existing=True)
    assert row is not None
    file = await current_file(s)
    spec = file.referrals
    sides = [Side(FRIEND, row.friend_id, spec.friend if spec else None)]
    if row.referrer_id is not None:
        sides.append(Side(REFERRER, row.referrer_id, spec.referrer if spec else None))
    accounts = {
        m: await ledger.lock_account(s, m, now) for m in sorted({x.member_id for x in sides})
    }
    for side in sides:
        reason = await _refusal(s, side, spec, now) if side.reward else CLOSED
        if reason is None and side.reward is not None:
            await _give(s, row, side, side.reward, accounts[side.member_id], file, now)
        else:
            s.add(_reward_row(row, side, SKIPPED, reason, 0, None, now))
    await s.flush()
    return True


async def _refusal(
    s: AsyncSession, side: Side, spec: ReferralsSpec | None, now: datetime
) -> str | None:
    """Why this side gets nothing (a cap or the budget), or None; takes the budget's share."""
    if spec is None or side.reward is None:
        return CLOSED
    if side.name == REFERRER and spec.cap is not None:
        start = period_start(spec.cap.per, now, (await current_file(s)).programme.zone)
        query = select(func.count()).where(
            ReferralReward.member_id == side.member_id,
            ReferralReward.side == REFERRER,
            ReferralReward.status == GRANTED,
        )
        if start is not None:
            query = query.where(ReferralReward.decided_at >= start)
        if int(await s.scalar(query) or 0) >= spec.cap.rewards:
            return CAP_REACHED
    return None if await _take_budget(s, spec, side.reward.points or 0) else BUDGET_EXHAUSTED


async def _take_budget(s: AsyncSession, spec: ReferralsSpec, points: int) -> bool:
    await s.execute(
        insert_for(s)(ReferralTotals)
        .values(id=1, points_given=0, rewards_given=0)
        .on_conflict_do_nothing()
    )
    query = update(ReferralTotals).where(ReferralTotals.id == 1)
    budget = spec.budget
    if budget is not None and budget.points is not None:
        query = query.where(ReferralTotals.points_given + points <= budget.points)
    if budget is not None and budget.rewards is not None:
        query = query.where(ReferralTotals.rewards_given < budget.rewards)
    taken = await s.execute(
        query.values(
            points_given=ReferralTotals.points_given + points,
            rewards_given=ReferralTotals.rewards_given + 1,
        ).execution_options(synchronize_session=False)
    )
    return _rowcount(taken) == 1


async def _give(
    s: AsyncSession,
    row: Referral,
    side: Side,
    reward: RewardSpec,
    account: PointAccount,
    file: ProgrammeFile,
    now: datetime,
) -> None:
    offer_key: str | None = None
    if reward.offer is not None and await give_offer(s, side.member_id, reward.offer, now):
        offer_key = reward.offer
    points = reward.points or 0
    if points:
        entry = await ledger.credit(
            s,
            account,
            "bonus",
            points,
            occurred_at=now,
            now=now,
            available_at=now,
            expires_at=expiry_of(file.points.expiry, now, file.programme.zone),
            meta=ledger.EntryMeta(
                "Referral reward" if side.name == REFERRER else "Welcome via a friend",
                source_type="referral",
                source_id=row.id,
                rule=side.name,
                actor="referrals",
                idempotency_key=f"referral:{row.id}:{side.name}",
            ),
        )
        await balance_event(s, side.member_id, [entry], now)
    s.add(_reward_row(row, side, GRANTED, None, points, offer_key, now))
    event = ReferralRewarded(
        member_id=side.member_id,
        referral_id=row.id,
        side=side.name,
        points=points,
        offer_key=offer_key,
    )
    emit(s, event, now)


def _reward_row(
    row: Referral,
    side: Side,
    status: str,
    reason: str | None,
    points: int,
    offer_key: str | None,
    now: datetime,
) -> ReferralReward:
    return ReferralReward(
        referral_id=row.id,
        side=side.name,
        member_id=side.member_id,
        status=status,
        reason=reason,
        points=points,
        offer_key=offer_key,
        decided_at=now,
    )
