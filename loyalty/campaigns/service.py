"""The campaigns area's use cases: a late delivery reported by a till, web shop or back
office (the `delivery.late` event a recovery campaign enters on), a campaign's dry run and
its report (with CSV)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.dryrun import DryRun, dry_run
from loyalty.campaigns.errors import CampaignsError
from loyalty.campaigns.evaluation import Report, as_csv, report
from loyalty.campaigns.models import Campaign
from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError
from loyalty.core.events import DeliveryLate
from loyalty.core.identifiers import client_key
from loyalty.core.outbox import emit
from loyalty.points.refs import MemberRef, resolve_member
from loyalty.storage.database import Database

MAX_DAYS_LATE = 365


class CampaignsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def report_late_delivery(
        self, ref: MemberRef, order_id: str, days_late: int, store: str | None = None
    ) -> int:
        """Announce that the member's order came late; returns the member's id."""
        order = client_key(order_id, "orderId", CampaignsError.INVALID_ORDER_ID)
        if not 0 < days_late <= MAX_DAYS_LATE:
            raise DomainError(
                CampaignsError.INVALID_DAYS_LATE, "daysLate must be 1 to 365", "daysLate"
            )
        async with self.db.unit_of_work() as uow:
            member = await resolve_member(uow.session, ref)
            event = DeliveryLate(
                member_id=member.id, order_id=order, days_late=days_late, store=store
            )
            emit(uow.session, event, self.clock.now())
            await uow.commit()
        return member.id

    async def dry_run(self, campaign_id: int) -> DryRun:
        async with self.db.unit_of_work(write=False) as uow:
            campaign = await _get(uow.session, campaign_id)
            return await dry_run(uow.session, campaign, self.clock.now())

    async def report(self, campaign_id: int) -> Report:
        async with self.db.unit_of_work(write=False) as uow:
            return await report(uow.session, await _get(uow.session, campaign_id))

    async def report_csv(self, campaign_id: int) -> tuple[str, str]:
        """(the campaign's key, its report as CSV)."""
        found = await self.report(campaign_id)
        return found.campaign_key, as_csv(found)


async def _get(s: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await s.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError(CampaignsError.CAMPAIGN_NOT_FOUND, "No such campaign", "campaignId")
    return campaign
