"""The rewards catalogue: kept in step with the programme file, and shown to a member (or an
anonymous visitor) with what they can do with each reward."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import NotFound
from loyalty.members.models import Member
from loyalty.points import balances
from loyalty.programme.spec import RewardSpec
from loyalty.programme.store import current_file, current_settings
from loyalty.rewards import rules
from loyalty.rewards.models import Reward
from loyalty.tiers import service as tiers


@dataclass(frozen=True)
class RewardView:
    """A reward as one member (or an anonymous visitor) sees it in the catalogue."""

    reward: Reward
    available: bool  # in stock, and this member may redeem it (status, tier, limit)
    affordable: bool  # the member has enough available points; False for anonymous


async def sync_rewards(s: AsyncSession, specs: Sequence[RewardSpec], now: datetime) -> None:
    """Upsert the `rewards` rows from the programme file by key; rewards no longer in the file
    are switched off (never deleted: redemptions reference them). `issued` is left alone.
    Times written without an offset in the file are read in the programme's timezone, so run
    this after `apply_programme` in the same unit of work."""
    zone = (await current_settings(s)).zone
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    for position, spec in enumerate(specs):
        values = _values(spec, position, zone, now)
        statement = insert(Reward).values(key=spec.key, issued=0, **values)
        await s.execute(statement.on_conflict_do_update(index_elements=[Reward.key], set_=values))
    await s.execute(
        update(Reward)
        .where(Reward.key.not_in([spec.key for spec in specs]), Reward.active.is_(True))
        .values(active=False, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await s.flush()


def _values(spec: RewardSpec, position: int, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    """A reward's columns as the programme file sets them."""
    return {
        "name": spec.name,
        "description": spec.description,
        "kind": spec.kind,
        "points_cost": spec.points_cost,
        "image_url": spec.image_url,
        "stock": spec.stock,
        "per_member_count": spec.per_member.count if spec.per_member else None,
        "per_member_period": spec.per_member.per if spec.per_member else None,
        "visible_from": _aware(spec.visible_from, zone),
        "visible_until": _aware(spec.visible_until, zone),
        "tiers": list(spec.tiers),
        "code_valid_days": spec.code_valid_days,
        "active": spec.active,
        "position": position,
        "updated_at": now,
    }


def _aware(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


async def catalogue(s: AsyncSession, member_id: int | None, now: datetime) -> list[RewardView]:
    """The rewards on show now, in programme-file order, with what this member can do."""
    rewards = list(
        await s.scalars(
            select(Reward).where(*rules.visible(now)).order_by(Reward.position, Reward.id)
        )
    )
    if member_id is None:
        return [
            RewardView(r, available=rules.in_stock(r) and not r.tiers, affordable=False)
            for r in rewards
        ]
    member = await s.get(Member, member_id)
    if member is None:
        raise NotFound("Member", "member")
    file = await current_file(s)
    level = await tiers.current_level(s, member_id, file, now)
    tier = level.key if level else None
    points = (await balances.balance(s, member_id, now)).available
    used = await rules.used(s, member_id, rewards, now, file.programme.zone)
    active = member.status == "active"
    return [
        RewardView(
            r,
            available=active
            and rules.in_stock(r)
            and rules.tier_allows(r, tier)
            and rules.within_limit(r, used),
            affordable=points >= r.points_cost,
        )
        for r in rewards
    ]
