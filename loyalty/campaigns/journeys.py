"""The journey engine: entering a campaign, and running a journey's steps one after the
other until it waits or ends.

Every step writes its receipt (`campaign_steps`, unique per enrolment and position) in the
same transaction as its effect (the offer granted, the points awarded, the message's event
and contact log line) and as the journey's move to the next step. A worker killed half-way
rolls all of it back, and the next worker runs that step again from the start: no step runs
twice and none is skipped. Due journeys are taken one per transaction, locked (`FOR UPDATE
SKIP LOCKED` on PostgreSQL; SQLite has one writer), and checked again once locked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.catalogue import ACTIVE, COMPLETED, EXITED, LIVE, RUNNING, WAITING, spec_of
from loyalty.campaigns.holdouts import control_group_at, held_out, in_control
from loyalty.campaigns.models import Campaign, CampaignEnrolment, CampaignStep
from loyalty.campaigns.run import Outcome, Run
from loyalty.campaigns.steps import default_next, run_step
from loyalty.core.events import CampaignEntered
from loyalty.core.outbox import emit
from loyalty.members.service import members_by_ids
from loyalty.messaging.budget import lock_contacts
from loyalty.programme.campaigns_spec import EXIT, CampaignSpec
from loyalty.programme.store import current_file
from loyalty.segments.membership import segment_keys_of

# Steps one journey may run in one go (a journey without waits ends well before).
MAX_STEPS = 100


async def refusal(
    s: AsyncSession, campaign: Campaign, spec: CampaignSpec, member_id: int, now: datetime
) -> str | None:
    """Why the member may not enter the campaign now (None: they may)."""
    earlier = list(
        await s.scalars(
            select(CampaignEnrolment)
            .where(
                CampaignEnrolment.campaign_id == campaign.id,
                CampaignEnrolment.member_id == member_id,
            )
            .order_by(CampaignEnrolment.entered_at.desc())
        )
    )
    if any(e.state in RUNNING for e in earlier):
        return "in_journey"
    if earlier and spec.rules.once:
        return "entered_before"
    days = spec.rules.reenter_after_days
    if earlier and days is not None and (now - earlier[0].entered_at).days < days:
        return "too_soon"
    if spec.entry.segment is not None and spec.entry.segment not in await segment_keys_of(
        s, member_id
    ):
        return "not_in_segment"
    return None


async def holdout_of(
    s: AsyncSession, spec: CampaignSpec, member_id: int, now: datetime
) -> tuple[str | None, int | None]:
    """("control" or "holdout" or None, the control group version in force)."""
    control = await control_group_at(s, now)
    if control is not None and in_control(control.version, member_id, control.share):
        return "control", control.version
    version = control.version if control is not None else None
    return ("holdout" if held_out(spec.key, member_id, spec.holdout_share) else None), version


async def enter(
    s: AsyncSession, campaign: Campaign, member_id: int, entry_ref: str, now: datetime
) -> CampaignEnrolment | None:
    """Enrol the member (under their contact lock, so two entries cannot race), or None."""
    spec = spec_of(campaign)
    await lock_contacts(s, member_id)
    found = await members_by_ids(s, [member_id])
    if not found or found[0].status != "active":
        return None
    if await refusal(s, campaign, spec, member_id, now) is not None:
        return None
    reason, control_version = await holdout_of(s, spec, member_id, now)
    enrolment = CampaignEnrolment(
        campaign_id=campaign.id,
        campaign_version=campaign.version,
        member_id=member_id,
        entry_ref=entry_ref[:120],
        held_out=reason is not None,
        holdout_reason=reason,
        control_version=control_version,
        state=ACTIVE,
        step_key=spec.steps[0].key,
        position=0,
        due_at=now,
        received=False,
        entered_at=now,
        updated_at=now,
    )
    s.add(enrolment)
    await s.flush()
    entered = CampaignEntered(
        member_id=member_id,
        campaign_id=campaign.id,
        campaign_key=campaign.key,
        enrolment_id=enrolment.id,
        held_out=enrolment.held_out,
    )
    emit(s, entered, now)
    return enrolment


def receipt(
    enrolment: CampaignEnrolment, key: str, action: str, outcome: Outcome, now: datetime
) -> CampaignStep:
    step = CampaignStep(
        enrolment_id=enrolment.id,
        seq=enrolment.position,
        step_key=key,
        action=action,
        state=outcome.state,
        skipped_reason=outcome.reason,
        detail=outcome.detail,
        at=now,
    )
    enrolment.position += 1
    return step


def finish(enrolment: CampaignEnrolment, state: str, now: datetime) -> None:
    enrolment.state = state
    enrolment.step_key = None
    enrolment.due_at = None
    enrolment.waiting_for = None
    enrolment.finished_at = now


def _apply(enrolment: CampaignEnrolment, spec: CampaignSpec, key: str, outcome: Outcome) -> None:
    """Move the journey on after a step; a wait for an event stays on its own step."""
    step = spec.step(key)
    assert step is not None
    if outcome.wait_for is not None:
        enrolment.state = WAITING
        enrolment.waiting_for = outcome.wait_for
        enrolment.timeout_step = outcome.timeout_step
        enrolment.received = False
        enrolment.step_key = key
    else:
        enrolment.step_key = outcome.next or default_next(spec, step)
    if outcome.due is not None:
        enrolment.due_at = outcome.due


async def advance(
    s: AsyncSession, campaign: Campaign, enrolment: CampaignEnrolment, now: datetime
) -> int:
    """Run the journey's due steps until it waits or ends; returns the steps run."""
    if campaign.state != LIVE or enrolment.state != ACTIVE:
        return 0
    spec = spec_of(campaign)
    # The contact lock before any other of the member's (points, offers): one order for all.
    await lock_contacts(s, enrolment.member_id)
    file = await current_file(s)
    member = (await members_by_ids(s, [enrolment.member_id]))[0]
    ran = 0
    while enrolment.state == ACTIVE and ran < MAX_STEPS:
        if enrolment.due_at is not None and enrolment.due_at > now:
            break
        key = enrolment.step_key
        step = spec.step(key) if key not in (None, EXIT) else None
        if step is None:
            finish(enrolment, COMPLETED if key == EXIT else EXITED, now)
            break
        outcome = await run_step(Run(s, file, campaign, spec, enrolment, member, now), step)
        if outcome.retry_at is not None:
            enrolment.due_at = outcome.retry_at
            break
        s.add(receipt(enrolment, step.key, step.action, outcome, now))
        enrolment.due_at = now
        _apply(enrolment, spec, step.key, outcome)
        ran += 1
    enrolment.updated_at = now
    await s.flush()
    return ran


async def resolve_wait(
    s: AsyncSession, campaign: Campaign, enrolment: CampaignEnrolment, received: bool, now: datetime
) -> None:
    """A wait for an event ends: the event came (on to the next step) or the time ran out (to
    the timeout's step); either is a receipt of its own."""
    spec = spec_of(campaign)
    key = enrolment.step_key or EXIT
    step = spec.step(key)
    outcome = Outcome(
        state="received" if received else "timed_out", detail={"event": enrolment.waiting_for}
    )
    s.add(receipt(enrolment, key, "wait_for", outcome, now))
    if step is None:
        target = EXIT
    elif received or step.wait_for is None:
        target = default_next(spec, step)
    else:
        target = step.wait_for.on_timeout or default_next(spec, step)
    enrolment.step_key = target
    enrolment.state = ACTIVE
    enrolment.received = received
    enrolment.waiting_for = None
    enrolment.timeout_step = None
    enrolment.due_at = now
