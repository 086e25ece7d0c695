"""What the admin API reads about campaigns: a page of campaigns, campaigns by id, and
members' journeys with their steps (for DataLoaders: one query per batch)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from loyalty.campaigns.models import Campaign, CampaignEnrolment, CampaignStep
from loyalty.core.clock import Clock
from loyalty.storage.database import Database


class CampaignReads:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def page(self, limit: int, after_id: int | None) -> list[Campaign]:
        query = select(Campaign).order_by(Campaign.id).limit(limit)
        if after_id is not None:
            query = query.where(Campaign.id > after_id)
        async with self.db.unit_of_work(write=False) as uow:
            return list(await uow.session.scalars(query))

    async def by_ids(self, ids: Sequence[int]) -> dict[int, Campaign]:
        if not ids:
            return {}
        async with self.db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(select(Campaign).where(Campaign.id.in_(ids)))
            return {c.id: c for c in rows}

    async def enrolments_of(self, member_ids: Sequence[int]) -> dict[int, list[CampaignEnrolment]]:
        found: dict[int, list[CampaignEnrolment]] = defaultdict(list)
        if member_ids:
            async with self.db.unit_of_work(write=False) as uow:
                rows = await uow.session.scalars(
                    select(CampaignEnrolment)
                    .where(CampaignEnrolment.member_id.in_(member_ids))
                    .order_by(CampaignEnrolment.entered_at, CampaignEnrolment.id)
                )
                for row in rows:
                    found[row.member_id].append(row)
        return {m: found.get(m, []) for m in member_ids}

    async def steps_of(self, enrolment_ids: Sequence[int]) -> dict[int, list[CampaignStep]]:
        found: dict[int, list[CampaignStep]] = defaultdict(list)
        if enrolment_ids:
            async with self.db.unit_of_work(write=False) as uow:
                rows = await uow.session.scalars(
                    select(CampaignStep)
                    .where(CampaignStep.enrolment_id.in_(enrolment_ids))
                    .order_by(CampaignStep.enrolment_id, CampaignStep.seq)
                )
                for row in rows:
                    found[row.enrolment_id].append(row)
        return {e: found.get(e, []) for e in enrolment_ids}
