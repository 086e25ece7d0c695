"""What segments do when other areas' events happen: re-evaluate that one member, after the
change has committed (the purchase or profile change never waits for, nor fails because of,
segments). Only the member the event is about is read; no other member is looked at.

Evaluated as of the event's time, so a late run gives the answer of that moment; the
rebuild job brings everyone up to date with time itself.
"""

from __future__ import annotations

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
    if member_id is not None:
        await refresh_members(s, [member_id], recorded.occurred_at)


def register(reactions: Reactions) -> None:
    reactions.on_commit("segments.refresh-member", CHANGES_A_MEMBER, _refresh)
