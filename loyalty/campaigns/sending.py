"""A campaign's message: under the member's contact lock, the one contact budget decides
(consent for the channel, quiet hours, the day's and week's cap in the member's time zone;
transactional messages only need consent). A message sent is a `campaign.message` event
that the notification worker delivers (inbox, push, pass, webhook) and a line in the
contact log; a message not sent is a line with the reason. Quiet hours put the step off
until they end."""

from __future__ import annotations

from typing import Any

from loyalty.campaigns.run import DONE, SKIPPED, Outcome, Run
from loyalty.core.events import CampaignMessage
from loyalty.core.outbox import emit
from loyalty.messaging.budget import (
    QUIET_HOURS,
    budget_in_force,
    lock_contacts,
    log_contact,
    verdict,
)
from loyalty.programme.campaigns_spec import StepSpec


def sender_of(run: Run) -> str:
    return f"campaign:{run.spec.key}"


async def send(run: Run, step: StepSpec) -> Outcome:
    assert step.send is not None
    s, member, now = run.s, run.member, run.now
    channel, transactional = step.send.channel, step.send.transactional
    ref = f"{run.enrolment.id}:{step.key}"
    await lock_contacts(s, member.id)
    budget = budget_in_force(s, run.file.campaigns.contact)
    said = await verdict(s, member, channel, transactional, budget, run.file.programme.zone, now)
    detail = {"channel": channel, "template": step.send.template}
    if said.reason == QUIET_HOURS and said.until is not None:
        return Outcome(retry_at=said.until, reason=QUIET_HOURS, detail=detail)
    common: dict[str, Any] = {"sender": sender_of(run), "channel": channel, "ref": ref}
    if said.reason is not None:
        log_contact(
            s, member.id, **common, reason=said.reason, transactional=transactional, now=now
        )
        return Outcome(state=SKIPPED, reason=said.reason, detail=detail)
    template = next((t for t in run.file.campaigns.templates if t.key == step.send.template), None)
    if template is None:  # removed from the programme file since the campaign was made
        log_contact(
            s, member.id, **common, reason="unknown_template", transactional=transactional, now=now
        )
        return Outcome(state=SKIPPED, reason="unknown_template", detail=detail)
    event = CampaignMessage(
        member_id=member.id,
        campaign_key=run.spec.key,
        enrolment_id=run.enrolment.id,
        step=step.key,
        channel=channel,
        template=template.key,
        title=template.title,
        body=template.body,
        transactional=transactional,
    )
    row = emit(s, event, now)
    await s.flush()
    log_contact(
        s, member.id, **common, reason=None, transactional=transactional, now=now, event_id=row.id
    )
    return Outcome(state=DONE, detail={**detail, "event": row.id})
