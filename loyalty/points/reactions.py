"""What the points area does when other areas' events happen: the moments in a member's life
that event rules may reward (signing up, completing the profile), earned once per member
whichever way the moment came about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import MemberSignedUp, ProfileCompleted
from loyalty.core.reactions import Reactions
from loyalty.members.models import Member
from loyalty.members.service import IMPORTED
from loyalty.points import ledger
from loyalty.points.activities import Activity, record_activity
from loyalty.points.models import MemberEvent

SIGN_UP = "sign_up"
PROFILE_COMPLETED = "profile_completed"


async def _moment(s: AsyncSession, member_id: int | None, name: str, at: datetime) -> None:
    member = await s.get(Member, member_id) if member_id is not None else None
    if member is None or member.status != "active":
        return
    # The id makes the moment count once per member, however often it is reported.
    external_id = f"{name}:{member.id}"
    if await s.scalar(select(MemberEvent.id).where(MemberEvent.external_id == external_id)):
        return
    account = await ledger.lock_account(s, member.id, at)
    await record_activity(s, member, account, Activity(external_id, name, at), at, "app")


async def _signed_up(s: AsyncSession, event: MemberSignedUp, at: datetime) -> None:
    # Members brought over from another platform signed up there long ago: their points
    # come as an opening balance, not as a sign-up reward.
    if event.channel == IMPORTED:
        return
    await _moment(s, event.member_id, SIGN_UP, at)


async def _profile_completed(s: AsyncSession, event: ProfileCompleted, at: datetime) -> None:
    await _moment(s, event.member_id, PROFILE_COMPLETED, at)


def register(reactions: Reactions) -> None:
    reactions.in_transaction(MemberSignedUp, _signed_up)
    reactions.in_transaction(ProfileCompleted, _profile_completed)
