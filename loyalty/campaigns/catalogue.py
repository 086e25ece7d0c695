"""Keeping the `campaigns` table in step with the programme file, and reading a campaign's
definition back. New campaigns are added; a changed definition gets the next version
(journeys under way go on with the steps they find by key); campaigns no longer in the file
end (never deleted: journeys and reports reference them). Run by `install_programme`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.holdouts import sync_control_group
from loyalty.campaigns.models import Campaign
from loyalty.programme.campaigns_spec import CampaignSpec, CampaignsSection

PROGRAMME, ADMIN = "programme", "admin"
DRAFT, LIVE, PAUSED, ENDED = "draft", "live", "paused", "ended"
ACTIVE, WAITING, COMPLETED, EXITED = "active", "waiting", "completed", "exited"
RUNNING = (ACTIVE, WAITING)


@lru_cache(maxsize=512)
def _parse(text: str) -> CampaignSpec:
    return CampaignSpec.model_validate(json.loads(text))


def spec_of(campaign: Campaign) -> CampaignSpec:
    return _parse(json.dumps(campaign.definition, sort_keys=True))


def definition_of(spec: CampaignSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def apply(campaign: Campaign, spec: CampaignSpec, now: datetime) -> None:
    """Set the columns from the spec; a changed definition is a new version."""
    definition = definition_of(spec)
    if campaign.definition and _content(campaign.definition) != _content(definition):
        campaign.version += 1
    campaign.definition = definition
    campaign.name = spec.name
    campaign.state = spec.state
    campaign.holdout_share = spec.holdout_share
    campaign.updated_at = now


def _content(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k != "state"}


def new_campaign(spec: CampaignSpec, source: str, now: datetime) -> Campaign:
    campaign = Campaign(key=spec.key, version=1, source=source, definition={}, created_at=now)
    apply(campaign, spec, now)
    return campaign


async def sync_campaigns(s: AsyncSession, section: CampaignsSection, now: datetime) -> None:
    await sync_control_group(s, section.control_group, now)
    specs: Sequence[CampaignSpec] = section.definitions
    existing = {c.key: c for c in await s.scalars(select(Campaign))}
    for spec in specs:
        campaign = existing.get(spec.key)
        if campaign is None:
            s.add(new_campaign(spec, PROGRAMME, now))
        elif campaign.source == PROGRAMME:
            apply(campaign, spec, now)
    named = {spec.key for spec in specs}
    for key, campaign in existing.items():
        if campaign.source == PROGRAMME and key not in named and campaign.state != ENDED:
            campaign.state = ENDED
            campaign.updated_at = now
    await s.flush()
