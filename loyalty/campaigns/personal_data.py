"""What campaigns hold about a member: the journeys they went through (held out or not) and
each step taken. Kept on erasure: states and dates only, and the evaluation of a campaign
must not change when one of its members is erased."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.models import Campaign, CampaignEnrolment, CampaignStep
from loyalty.core.personal_data import Holding, PersonalDataRegistry, keep, rows_as_dicts


async def _journeys(session: AsyncSession, member_id: int) -> Any:
    enrolments = (
        await session.execute(
            select(CampaignEnrolment, Campaign.key)
            .join(Campaign, Campaign.id == CampaignEnrolment.campaign_id)
            .where(CampaignEnrolment.member_id == member_id)
            .order_by(CampaignEnrolment.id)
        )
    ).all()
    journeys = []
    for enrolment, campaign in enrolments:
        steps = await session.scalars(
            select(CampaignStep)
            .where(CampaignStep.enrolment_id == enrolment.id)
            .order_by(CampaignStep.seq)
        )
        journey = rows_as_dicts([enrolment], skip=("member_id",))[0]
        journey["campaign"] = campaign
        journey["steps"] = rows_as_dicts(list(steps), skip=("enrolment_id",))
        journeys.append(journey)
    return journeys


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "campaigns",
            "campaignJourneys",
            ("campaign_enrolments", "campaign_steps"),
            _journeys,
            keep,
            erasure="kept: states, steps and dates (campaign evaluations do not change)",
        )
    )
