"""Campaigns made and changed through the admin API: the same definition as a programme
file's campaign, checked the same way (against the offers, segments and templates in force),
each problem with the field it is about. Campaigns from the programme file change there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.catalogue import ADMIN, ENDED, PROGRAMME, apply, new_campaign
from loyalty.campaigns.errors import CampaignsError
from loyalty.campaigns.models import Campaign
from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.offers.grant import offer_keys
from loyalty.programme.api_input import camel, message_of
from loyalty.programme.campaigns_checks import Known, one_campaign_problems
from loyalty.programme.campaigns_spec import CampaignSpec
from loyalty.programme.store import current_file
from loyalty.storage.database import Database

STATES = ("draft", "live", "paused", "ended")


def _field(loc: tuple[Any, ...]) -> str | None:
    return ".".join(camel(str(p)) for p in loc if not isinstance(p, int)) or None


def _validated(definition: Mapping[str, Any]) -> CampaignSpec:
    try:
        return CampaignSpec.model_validate(dict(definition))
    except ValidationError as exc:
        raise ValidationFailed(
            [
                DomainError(CampaignsError.INVALID_CAMPAIGN, message_of(e), _field(e["loc"]))
                for e in exc.errors()
            ]
        ) from None


async def check_references(s: AsyncSession, spec: CampaignSpec) -> None:
    file = await current_file(s)
    known = Known(
        {seg.key for seg in file.segments},
        await offer_keys(s),
        {level.key for level in file.tiers.levels} if file.tiers else set(),
        {t.key for t in file.campaigns.templates},
    )
    try:
        problems = list(one_campaign_problems(spec, known, ()))
    except ValueError as exc:
        raise DomainError(CampaignsError.INVALID_CAMPAIGN, str(exc), "steps") from None
    if problems:
        raise ValidationFailed(
            [
                DomainError(CampaignsError.INVALID_CAMPAIGN, text, _field(loc))
                for loc, text in problems
            ]
        )


def not_found() -> DomainError:
    return DomainError(CampaignsError.CAMPAIGN_NOT_FOUND, "No such campaign", "campaignId")


class CampaignAdmin:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(self, definition: Mapping[str, Any]) -> Campaign:
        spec = _validated(definition)
        now = self.clock.now()
        try:
            async with self.db.unit_of_work() as uow:
                s = uow.session
                await check_references(s, spec)
                if await s.scalar(select(Campaign.id).where(Campaign.key == spec.key)):
                    raise _key_taken(spec.key)
                campaign = new_campaign(spec, ADMIN, now)
                s.add(campaign)
                await s.flush()
                await uow.commit()
        except IntegrityError:
            raise _key_taken(spec.key) from None
        return campaign

    async def update(
        self, campaign_id: int, definition: Mapping[str, Any], expected_version: int | None
    ) -> Campaign:
        spec = _validated(definition)
        async with self.db.unit_of_work() as uow:
            s = uow.session
            campaign = await _editable(s, campaign_id, expected_version)
            if spec.key != campaign.key:
                raise DomainError(
                    CampaignsError.INVALID_CAMPAIGN, "A campaign's key does not change", "key"
                )
            await check_references(s, spec)
            apply(campaign, spec, self.clock.now())
            await uow.commit()
        return campaign

    async def set_state(self, campaign_id: int, state: str) -> Campaign:
        if state not in STATES:
            raise DomainError(CampaignsError.INVALID_STATE, f"No state {state!r}", "state")
        async with self.db.unit_of_work() as uow:
            campaign = await _editable(uow.session, campaign_id, None)
            definition = dict(campaign.definition, state=state)
            apply(campaign, CampaignSpec.model_validate(definition), self.clock.now())
            await uow.commit()
        return campaign


async def _editable(s: AsyncSession, campaign_id: int, expected_version: int | None) -> Campaign:
    campaign = await s.get(Campaign, campaign_id, with_for_update=True)
    if campaign is None:
        raise not_found()
    if campaign.source == PROGRAMME:
        raise DomainError(
            CampaignsError.CAMPAIGN_FROM_PROGRAMME,
            "This campaign comes from the programme file: change it there",
            "campaignId",
        )
    if campaign.state == ENDED:
        raise DomainError(CampaignsError.CAMPAIGN_ENDED, "An ended campaign does not change")
    if expected_version is not None and expected_version != campaign.version:
        raise DomainError(
            CampaignsError.VERSION_CONFLICT,
            f"Changed since version {expected_version} (now {campaign.version})",
            "expectedVersion",
        )
    return campaign


def _key_taken(key: str) -> DomainError:
    return DomainError(CampaignsError.CAMPAIGN_KEY_TAKEN, f"A campaign {key!r} exists", "key")
