"""Rules shared by the catalogue and redemption, so that what is listed as available is what
can be redeemed: on show, in stock, the member's tier and per-member limit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from loyalty.points.earning import period_start
from loyalty.rewards.models import Redemption, Reward

# The life of a redemption code: issued, then taken at a till or cancelled.
ISSUED, REDEEMED, CANCELLED = "issued", "redeemed", "cancelled"


def visible(now: datetime) -> list[ColumnElement[bool]]:
    """The rewards on show at `now`, as query conditions."""
    return [
        Reward.active.is_(True),
        or_(Reward.visible_from.is_(None), Reward.visible_from <= now),
        or_(Reward.visible_until.is_(None), Reward.visible_until > now),
    ]


def is_visible(reward: Reward, now: datetime) -> bool:
    return (
        reward.active
        and (reward.visible_from is None or reward.visible_from <= now)
        and (reward.visible_until is None or reward.visible_until > now)
    )


def in_stock(reward: Reward) -> bool:
    return reward.stock is None or reward.issued < reward.stock


def tier_allows(reward: Reward, tier: str | None) -> bool:
    return not reward.tiers or (tier is not None and tier in reward.tiers)


async def used(
    s: AsyncSession, member_id: int, rewards: Iterable[Reward], now: datetime, zone: ZoneInfo
) -> dict[int, int]:
    """Live (not cancelled) redemptions of each limited reward by the member in the reward's
    current period, in one grouped query."""
    limited = [r for r in rewards if r.per_member_count is not None]
    if not limited:
        return {}
    periods = sorted({r.per_member_period or "ever" for r in limited})
    columns = []
    for period in periods:
        start = period_start(period, now, zone)
        columns.append(
            func.count(Redemption.id)
            if start is None
            else func.coalesce(func.sum(case((Redemption.created_at >= start, 1), else_=0)), 0)
        )
    rows = await s.execute(
        select(Redemption.reward_id, *columns)
        .where(
            Redemption.member_id == member_id,
            Redemption.reward_id.in_([r.id for r in limited]),
            Redemption.status != CANCELLED,
        )
        .group_by(Redemption.reward_id)
    )
    counts = {row[0]: {p: int(n) for p, n in zip(periods, row[1:], strict=True)} for row in rows}
    return {r.id: counts.get(r.id, {}).get(r.per_member_period or "ever", 0) for r in limited}


def within_limit(reward: Reward, used: dict[int, int]) -> bool:
    return reward.per_member_count is None or used.get(reward.id, 0) < reward.per_member_count


def rowcount(result: Any) -> int:
    """Rows a conditional UPDATE changed: 0 when another request got there first."""
    return cast(CursorResult[Any], result).rowcount
