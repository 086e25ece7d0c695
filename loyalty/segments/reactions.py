"""What segments do when other areas' events happen: re-evaluate that one member, after the
change has committed (the purchase or profile change never waits for, nor fails because of,
segments). Only the member the event is about is read; no other member is looked at.

Evaluated as of the event's time (or of the member's last evaluation, if that is later); the
rebuild job brings everyone up to date with time itself.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import (
    ActivityRecorded,
    ConsentChanged,
    Event,
    MemberSignedUp,
    ProfileCompleted,
    ProfileUpdated,
    PurchaseRecorded,
    PurchaseReturned,
    Recorded,
    TierChanged,
)
from loyalty.core.reactions import Reactions
from loyalty.segments.membership import refresh_members
from loyalty.segments.models import MemberRhythm

CHANGES_A_MEMBER: tuple[type[Event], ...] = (
    PurchaseRecorded,
    PurchaseReturned,
    ActivityRecorded,
    TierChanged,
    MemberSignedUp,
    ProfileUpdated,
    ProfileCompleted,
    ConsentChanged,
)


async def _refresh(s: AsyncSession, recorded: Recorded[Event]) -> None:
    member_id = recorded.event.member_id
    if member_id is None:
        return
    # Never as of a time before the member's last evaluation: an old event handled late (or
    # after a rebuild) must not take the member back in time.
    last = await s.scalar(
        select(MemberRhythm.computed_at).where(MemberRhythm.member_id == member_id)
    )
    at = max(recorded.occurred_at, last) if last is not None else recorded.occurred_at
    await refresh_members(s, [member_id], at)


def register(reactions: Reactions) -> None:
    reactions.on_commit("segments.refresh-member", CHANGES_A_MEMBER, _refresh)
