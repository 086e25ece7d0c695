"""What referrals hold about a member: their code, the keyed fingerprints the fraud checks
compare (of email, phone, device, client address, cards paid with), the referrals they made
or came in by, and the rewards. On erasure the code and fingerprints are deleted; referrals
and rewards stay for the budget and the books, without the keyed address of the client that
signed up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.personal_data import (
    Holding,
    PersonalDataRegistry,
    delete_rows,
    keep,
    rows_as_dicts,
    rows_of,
)
from loyalty.referrals.models import Referral, ReferralCode, ReferralFingerprint, ReferralReward


def _involving(member_id: int) -> Any:
    return or_(Referral.friend_id == member_id, Referral.referrer_id == member_id)


async def _referrals(session: AsyncSession, member_id: int) -> Any:
    rows = await session.scalars(
        select(Referral).where(_involving(member_id)).order_by(Referral.id)
    )
    return rows_as_dicts(list(rows), skip=("client_digest",))


async def _forget_client(session: AsyncSession, member_id: int, _now: datetime) -> None:
    await session.execute(
        update(Referral).where(Referral.friend_id == member_id).values(client_digest=None)
    )


async def _fingerprints(session: AsyncSession, member_id: int) -> Any:
    # Which signals were kept, not their digests (keyed hashes mean nothing outside Trouw).
    return [
        {"kind": row["kind"], "createdAt": row["created_at"]}
        for row in await rows_of(ReferralFingerprint)(session, member_id)
    ]


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "referrals",
            "referralCode",
            ("referral_codes",),
            rows_of(ReferralCode),
            delete_rows(ReferralCode),
            erasure="deleted",
        )
    )
    registry.add(
        Holding(
            "referrals",
            "referralSignals",
            ("referral_fingerprints",),
            _fingerprints,
            delete_rows(ReferralFingerprint),
            erasure="deleted (keyed hashes of email, phone and device)",
        )
    )
    registry.add(
        Holding(
            "referrals",
            "referrals",
            ("referrals", "referral_decisions"),
            _referrals,
            _forget_client,
            erasure="kept: states, amounts and dates; the client address's keyed hash removed",
        )
    )
    registry.add(
        Holding(
            "referrals",
            "referralRewards",
            ("referral_rewards",),
            rows_of(ReferralReward),
            keep,
            erasure="kept: points and offers given",
        )
    )
