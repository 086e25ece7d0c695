"""What a split may ask about the member's profile, besides segments and consents: their
tier (that one or a higher one, now) and whether they bought something recently."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.points.models import Purchase
from loyalty.programme.spec import ProgrammeFile
from loyalty.tiers.service import current_level


async def in_tier(
    s: AsyncSession, file: ProgrammeFile, member_id: int, tier: str, now: datetime
) -> bool:
    """Whether the member's tier now is `tier` or one above it (False without tiers)."""
    if file.tiers is None:
        return False
    order = [level.key for level in file.tiers.levels]
    level = await current_level(s, member_id, file, now)
    if level is None or tier not in order:
        return False
    return order.index(level.key) >= order.index(tier)


async def purchased_since(s: AsyncSession, member_id: int, since: datetime) -> bool:
    found = await s.scalar(
        select(Purchase.id)
        .where(Purchase.member_id == member_id, Purchase.occurred_at >= since)
        .limit(1)
    )
    return found is not None
