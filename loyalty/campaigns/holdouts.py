"""Who is held out: deterministic per campaign (a hash of the campaign's key and the member),
and the programme-wide control group (a hash of its version and the member), whose versions
are kept with their periods so that an old report finds the same members."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.errors import CampaignsError
from loyalty.campaigns.models import ControlGroupVersion
from loyalty.core.errors import DomainError
from loyalty.programme.campaigns_spec import ControlGroupSpec


def bucket(*parts: object) -> float:
    """A number in [0, 1) that depends on `parts` only: the same on every run and machine."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def held_out(campaign_key: str, member_id: int, share: float) -> bool:
    return bucket("holdout", campaign_key, member_id) < share


def in_control(version: int, member_id: int, share: float) -> bool:
    return bucket("control", version, member_id) < share


async def control_group_at(s: AsyncSession, at: datetime) -> ControlGroupVersion | None:
    """The control group version in force at `at` (None: no control group then)."""
    found: ControlGroupVersion | None = await s.scalar(
        select(ControlGroupVersion)
        .where(
            ControlGroupVersion.valid_from <= at,
            or_(ControlGroupVersion.valid_until.is_(None), ControlGroupVersion.valid_until > at),
        )
        .order_by(ControlGroupVersion.valid_from.desc())
        .limit(1)
    )
    return found


async def sync_control_group(s: AsyncSession, spec: ControlGroupSpec | None, now: datetime) -> None:
    """Bring the control group in step with the programme file: a new version starts a new
    period (the old one is closed, never changed); a version number is never reused."""
    current = await control_group_at(s, now)
    same = spec is not None and current is not None
    if same and current.version == spec.version and current.share == spec.share:  # type: ignore[union-attr]
        return
    if current is not None:
        current.valid_until = now
    if spec is None:
        return
    if await s.get(ControlGroupVersion, spec.version) is not None:
        raise DomainError(
            CampaignsError.CONTROL_VERSION_USED,
            f"control group version {spec.version} was used before: raise `version`",
            "campaigns.control_group.version",
        )
    s.add(ControlGroupVersion(version=spec.version, share=spec.share, valid_from=now))
    await s.flush()
