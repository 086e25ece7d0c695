"""Putting a programme file into force: the programme row and everything derived from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.catalogue import sync_campaigns
from loyalty.offers.catalogue import sync_offers
from loyalty.programme.models import Programme
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import apply_programme
from loyalty.programme.versions import record_version
from loyalty.rewards.service import sync_rewards
from loyalty.segments.catalogue import sync_segments
from loyalty.surveys.catalogue import sync_surveys


async def install_programme(
    s: AsyncSession,
    file: ProgrammeFile,
    now: datetime,
    *,
    applied_by: str | None = None,
    note: str | None = None,
) -> tuple[Programme, bool]:
    """Apply the file and bring the rewards, segments, offers, surveys and campaigns in step
    with it, in one transaction; the file is kept as the programme's next version, with who
    applied it."""
    row, created = await apply_programme(s, file, now)
    await record_version(s, file, now, applied_by, note)
    await sync_rewards(s, file.rewards, now)
    await sync_segments(s, file.segments, now)
    await sync_offers(s, file.offers, now)
    await sync_surveys(s, file.surveys.definitions, now)
    await sync_campaigns(s, file.campaigns, now)
    return row, created
