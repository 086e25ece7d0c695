"""What tiers do when other areas' events happen: move a member up at once after earning."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import ActivityRecorded, PurchaseRecorded
from loyalty.core.reactions import Reactions
from loyalty.programme.store import current_file
from loyalty.tiers.service import upgrade_if_qualified


async def _after_purchase(s: AsyncSession, event: PurchaseRecorded, at: datetime) -> None:
    # Always: with tiers on spend, a purchase that earned nothing still counts.
    if event.member_id is not None:
        await upgrade_if_qualified(s, event.member_id, await current_file(s), at)


async def _after_activity(s: AsyncSession, event: ActivityRecorded, at: datetime) -> None:
    if event.points_awarded > 0 and event.member_id is not None:
        await upgrade_if_qualified(s, event.member_id, await current_file(s), at)


def register(reactions: Reactions) -> None:
    reactions.in_transaction(PurchaseRecorded, _after_purchase)
    reactions.in_transaction(ActivityRecorded, _after_activity)
