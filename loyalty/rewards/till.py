"""A till takes a redemption code: valid once, before it expires, unless cancelled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from loyalty.core.errors import DomainError
from loyalty.core.events import RewardCodeRedeemed
from loyalty.core.outbox import emit
from loyalty.rewards import rules
from loyalty.rewards.codes import normalise_code
from loyalty.rewards.errors import RewardsError
from loyalty.rewards.models import Redemption
from loyalty.storage.database import Database


async def redeem_code(db: Database, code: str, actor: str, now: datetime) -> Redemption:
    """Mark the code as taken by `actor`, or fail saying why it cannot be taken."""
    normalised = normalise_code(code)
    if normalised is None:
        raise _not_found()
    async with db.unit_of_work() as uow:
        s = uow.session
        redemption = await s.scalar(select(Redemption).where(Redemption.code == normalised))
        if redemption is None:
            raise _not_found()
        check_usable(redemption, now)
        taken = await s.execute(
            update(Redemption)
            .where(Redemption.id == redemption.id, Redemption.status == rules.ISSUED)
            .values(status=rules.REDEEMED, redeemed_at=now, redeemed_by=actor[:120])
            .execution_options(synchronize_session=False)
        )
        await s.refresh(redemption)
        if rules.rowcount(taken) != 1:
            # Another till took (or staff cancelled) it between our read and our write.
            check_usable(redemption, now)
            raise _used()
        emit(
            s,
            RewardCodeRedeemed(
                member_id=redemption.member_id,
                redemption_id=redemption.id,
                reward_id=redemption.reward_id,
            ),
            now,
        )
        await uow.commit()
    return redemption


def check_usable(redemption: Redemption, now: datetime) -> None:
    if redemption.status == rules.CANCELLED:
        raise DomainError(RewardsError.CODE_CANCELLED, "This code was cancelled", "code")
    if redemption.status == rules.REDEEMED:
        raise _used()
    if redemption.expires_at <= now:
        raise DomainError(RewardsError.CODE_EXPIRED, "This code has expired", "code")


def _not_found() -> DomainError:
    return DomainError(RewardsError.CODE_NOT_FOUND, "No reward with this code", "code")


def _used() -> DomainError:
    return DomainError(RewardsError.CODE_ALREADY_USED, "This code has already been used", "code")
