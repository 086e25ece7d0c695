"""Reads of referrals for the API: a member's counts, what became of a sign-up's code, the
held referrals admins review, and the programme's conversion figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from loyalty.referrals.granting import GRANTED, REFERRER, REWARDED
from loyalty.referrals.models import Referral, ReferralDecision, ReferralReward
from loyalty.referrals.qualifying import CANCELLED, QUALIFIED
from loyalty.referrals.screening import HELD, IGNORED, PENDING, REJECTED
from loyalty.storage.database import Database

# A friend who signed up with the code and was let through (at once or after review).
ACCEPTED = (PENDING, QUALIFIED, REWARDED, CANCELLED)
STATES = (IGNORED, PENDING, HELD, QUALIFIED, REWARDED, REJECTED, CANCELLED)


@dataclass(frozen=True)
class Counts:
    invited: int
    rewarded: int


@dataclass(frozen=True)
class Conversion:
    """Friends accepted, how many bought (qualified or later), how many were rewarded, and
    the conversion rate: rewarded / accepted (0 when none)."""

    signed_up: int
    held: int
    rejected: int
    qualified: int
    rewarded: int
    cancelled: int

    @property
    def accepted(self) -> int:
        return self.signed_up + self.qualified + self.rewarded + self.cancelled

    @property
    def conversion_rate(self) -> float:
        return self.rewarded / self.accepted if self.accepted else 0.0


class ReferralReads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def counts(self, member_id: int) -> Counts:
        async with self._db.unit_of_work(write=False) as uow:
            s = uow.session
            invited = await s.scalar(
                select(func.count()).where(
                    Referral.referrer_id == member_id, Referral.state.in_(ACCEPTED)
                )
            )
            rewarded = await s.scalar(
                select(func.count()).where(
                    ReferralReward.member_id == member_id,
                    ReferralReward.side == REFERRER,
                    ReferralReward.status == GRANTED,
                )
            )
        return Counts(int(invited or 0), int(rewarded or 0))

    async def of_friend(self, friend_id: int) -> Referral | None:
        """What became of the code the member signed up with (None: they sent none)."""
        async with self._db.unit_of_work(write=False) as uow:
            return await uow.session.scalar(select(Referral).where(Referral.friend_id == friend_id))

    async def held(self, limit: int, after_id: int | None = None) -> list[Referral]:
        query = select(Referral).where(Referral.state == HELD).order_by(Referral.id).limit(limit)
        if after_id is not None:
            query = query.where(Referral.id > after_id)
        async with self._db.unit_of_work(write=False) as uow:
            return list(await uow.session.scalars(query))

    async def by_ids(self, ids: Sequence[int]) -> list[Referral | None]:
        async with self._db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(select(Referral).where(Referral.id.in_(ids)))
            found = {r.id: r for r in rows}
        return [found.get(i) for i in ids]

    async def decisions(self, referral_id: int) -> list[ReferralDecision]:
        async with self._db.unit_of_work(write=False) as uow:
            return list(
                await uow.session.scalars(
                    select(ReferralDecision)
                    .where(ReferralDecision.referral_id == referral_id)
                    .order_by(ReferralDecision.id)
                )
            )

    async def conversion(self) -> Conversion:
        async with self._db.unit_of_work(write=False) as uow:
            rows = await uow.session.execute(
                select(Referral.state, func.count()).group_by(Referral.state)
            )
            by_state = {state: int(n) for state, n in rows}
        return Conversion(
            signed_up=by_state.get(PENDING, 0),
            held=by_state.get(HELD, 0),
            rejected=by_state.get(REJECTED, 0),
            qualified=by_state.get(QUALIFIED, 0),
            rewarded=by_state.get(REWARDED, 0),
            cancelled=by_state.get(CANCELLED, 0),
        )
