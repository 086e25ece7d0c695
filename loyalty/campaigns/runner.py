"""What moves journeys: events (entering campaigns, ending waits for an event), the clock
(due steps, timeouts) and schedules (a segment's members entering every N days)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.catalogue import LIVE, RUNNING, WAITING, spec_of
from loyalty.campaigns.journeys import advance, enter, resolve_wait
from loyalty.campaigns.models import Campaign, CampaignEnrolment
from loyalty.core.events import EVENT_TYPES, Event, Recorded
from loyalty.programme.campaigns_spec import NOT_ENTRY_EVENTS
from loyalty.programme.store import current_file
from loyalty.segments.membership import member_ids_in
from loyalty.storage.database import Database

# The events a campaign may enter on or wait for (the after-commit reaction hears these).
CAMPAIGN_EVENTS: tuple[type[Event], ...] = tuple(
    t for t in EVENT_TYPES if t.name not in NOT_ENTRY_EVENTS
)
BATCH = 100


async def on_event(s: AsyncSession, recorded: Recorded[Event]) -> None:
    """Enter the campaigns this event starts, and end the waits it ends, running what is due
    at once: all in the reaction's transaction, with its receipt."""
    event, now = recorded.event, recorded.occurred_at
    if event.member_id is None:
        return
    live = list(await s.scalars(select(Campaign).where(Campaign.state == LIVE)))
    for campaign in live:
        if spec_of(campaign).entry.event == event.name:
            enrolment = await enter(s, campaign, event.member_id, f"event:{recorded.id}", now)
            if enrolment is not None:
                await advance(s, campaign, enrolment, now)
    waiting = await s.scalars(
        select(CampaignEnrolment)
        .where(
            CampaignEnrolment.member_id == event.member_id,
            CampaignEnrolment.state == WAITING,
            CampaignEnrolment.waiting_for == event.name,
            CampaignEnrolment.entered_at <= now,
        )
        .order_by(CampaignEnrolment.id)
        .with_for_update()
    )
    by_id = {c.id: c for c in live}
    for enrolment in list(waiting):
        if enrolment.due_at is not None and enrolment.due_at < now:
            continue  # timed out before the event: the clock resolves it
        owner = by_id.get(enrolment.campaign_id)
        if owner is not None:
            await resolve_wait(s, owner, enrolment, True, now)
            await advance(s, owner, enrolment, now)


def _due(now: datetime) -> Any:
    return (
        select(CampaignEnrolment.id)
        .join(Campaign, Campaign.id == CampaignEnrolment.campaign_id)
        .where(
            CampaignEnrolment.state.in_(RUNNING),
            CampaignEnrolment.due_at <= now,
            Campaign.state == LIVE,
        )
    )


async def run_due(db: Database, now: datetime, batch: int = BATCH) -> int:
    """Run up to `batch` due journeys, each in a transaction of its own; returns how many
    moved. Safe in any number of workers."""
    async with db.unit_of_work(write=False) as uow:
        ids = list(
            await uow.session.scalars(_due(now).order_by(CampaignEnrolment.due_at).limit(batch))
        )
    moved = 0
    for enrolment_id in ids:
        async with db.unit_of_work() as uow:
            s = uow.session
            enrolment = await s.scalar(
                select(CampaignEnrolment)
                .where(
                    CampaignEnrolment.id == enrolment_id,
                    CampaignEnrolment.state.in_(RUNNING),
                    CampaignEnrolment.due_at <= now,
                )
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
            if enrolment is None:
                continue  # another worker has it, or did it
            campaign = await s.get(Campaign, enrolment.campaign_id)
            assert campaign is not None
            if enrolment.state == WAITING:
                await resolve_wait(s, campaign, enrolment, False, now)
            await advance(s, campaign, enrolment, now)
            await uow.commit()
            moved += 1
    return moved


def next_run(campaign: Campaign, now: datetime, zone: ZoneInfo) -> datetime:
    """When the campaign's schedule runs next (it may be now or past)."""
    spec = spec_of(campaign)
    assert spec.entry.every_days is not None
    if campaign.last_scheduled_at is None:
        day = now.astimezone(zone).date()
    else:
        last = campaign.last_scheduled_at.astimezone(zone).date()
        day = last + timedelta(days=spec.entry.every_days)
    return datetime.combine(day, spec.entry.at, tzinfo=zone).astimezone(UTC)


async def run_schedules(db: Database, now: datetime) -> int:
    """Enter the members of each scheduled campaign's segment when its time has come;
    returns how many entered. One transaction per campaign run."""
    entered = 0
    async with db.unit_of_work(write=False) as uow:
        ids = list(await uow.session.scalars(select(Campaign.id).where(Campaign.state == LIVE)))
    for campaign_id in ids:
        async with db.unit_of_work() as uow:
            s = uow.session
            campaign = await s.get(Campaign, campaign_id, with_for_update=True)
            if campaign is None or campaign.state != LIVE:
                continue
            spec = spec_of(campaign)
            if spec.entry.every_days is None or spec.entry.segment is None:
                continue
            zone = (await current_file(s)).programme.zone
            if next_run(campaign, now, zone) > now:
                continue
            ref = f"schedule:{now.astimezone(zone).date().isoformat()}"
            for member_id in await member_ids_in(s, spec.entry.segment):
                enrolment = await enter(s, campaign, member_id, ref, now)
                if enrolment is not None:
                    await advance(s, campaign, enrolment, now)
                    entered += 1
            campaign.last_scheduled_at = now
            await uow.commit()
    return entered
