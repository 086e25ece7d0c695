"""A campaign's dry run: who would enter now, who of them would be held out, and who would be
stopped and why (entry rules, not in the segment, or the first message's consent, quiet
hours or cap). It reads and changes nothing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.catalogue import spec_of
from loyalty.campaigns.journeys import holdout_of, refusal
from loyalty.campaigns.models import Campaign
from loyalty.members.service import active_member_ids, members_by_ids
from loyalty.messaging.budget import NOT_ACTIVE, budget_in_force, verdict
from loyalty.programme.store import current_file
from loyalty.segments.membership import member_ids_in

# How many members a dry run looks at, at most (an event entry without a segment: everyone).
LIMIT = 50_000


@dataclass(frozen=True)
class DryRun:
    would_enter: int
    held_out: int
    blocked: dict[str, int]


async def _candidates(s: AsyncSession, campaign: Campaign) -> list[int]:
    spec = spec_of(campaign)
    if spec.entry.segment is not None:
        return (await member_ids_in(s, spec.entry.segment))[:LIMIT]
    return await active_member_ids(s, LIMIT)


async def dry_run(s: AsyncSession, campaign: Campaign, now: datetime) -> DryRun:
    spec = spec_of(campaign)
    file = await current_file(s)
    first_send = next((step.send for step in spec.steps if step.send is not None), None)
    budget = budget_in_force(s, file.campaigns.contact)
    ids = await _candidates(s, campaign)
    blocked: Counter[str] = Counter()
    entering = held = 0
    people = [
        m for i in range(0, len(ids), 1000) for m in await members_by_ids(s, ids[i : i + 1000])
    ]
    for member in people:
        if member.status != "active":
            blocked[NOT_ACTIVE] += 1
            continue
        reason = await refusal(s, campaign, spec, member.id, now)
        if reason is not None:
            blocked[reason] += 1
            continue
        holdout, _ = await holdout_of(s, spec, member.id, now)
        entering += 1
        if holdout is not None:
            held += 1
            continue
        if first_send is not None:
            said = await verdict(
                s,
                member,
                first_send.channel,
                first_send.transactional,
                budget,
                file.programme.zone,
                now,
            )
            if said.reason is not None:
                blocked[said.reason] += 1
    return DryRun(entering, held, dict(blocked))
