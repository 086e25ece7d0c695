"""What each kind of step does, in the journey's transaction. A held-out member goes
through every step, but the steps that give or send something are recorded as `held_out`
and do nothing, so that their outcomes can be compared with the treated."""

from __future__ import annotations

from datetime import timedelta

from loyalty.campaigns import conditions, waits
from loyalty.campaigns.run import HELD_OUT, SKIPPED, WAITING, Outcome, Run
from loyalty.campaigns.sending import send
from loyalty.members.service import consents_for
from loyalty.offers.grant import grant_offer
from loyalty.points.adjustments import award_in
from loyalty.programme.campaigns_spec import EXIT, CampaignSpec, StepSpec
from loyalty.segments.membership import segment_keys_of


def default_next(spec: CampaignSpec, step: StepSpec) -> str:
    index = spec.steps.index(step)
    following = spec.steps[index + 1].key if index + 1 < len(spec.steps) else EXIT
    return step.next or following


async def run_step(run: Run, step: StepSpec) -> Outcome:
    action = step.action
    if action == "exit":
        return Outcome(next=EXIT)
    if action in ("wait", "wait_until", "wait_for_date", "wait_for"):
        return _wait(run, step)
    if action == "split":
        return await _split(run, step)
    if run.enrolment.held_out:
        return Outcome(state=HELD_OUT, reason="held_out", detail={"would": action})
    if action == "grant_offer":
        assert step.grant_offer is not None
        reason = await grant_offer(
            run.s, run.member.id, step.grant_offer.offer, f"campaign {run.spec.key}", run.now
        )
        offer = {"offer": step.grant_offer.offer}
        return (
            Outcome(state=SKIPPED, reason=reason, detail=offer) if reason else Outcome(detail=offer)
        )
    if action == "award_points":
        assert step.award_points is not None
        key = f"campaign:{run.enrolment.id}:{step.key}:{run.enrolment.position}"
        entry = await award_in(
            run.s,
            run.member.id,
            step.award_points.points,
            step.award_points.reason,
            key,
            f"campaign:{run.spec.key}",
            run.now,
        )
        return Outcome(detail={"points": step.award_points.points, "entry": entry.id})
    return await send(run, step)


def _wait(run: Run, step: StepSpec) -> Outcome:
    now = run.now
    if step.wait is not None:
        return Outcome(due=waits.after(step.wait, now))
    if step.wait_until is not None:
        return Outcome(due=waits.until(step.wait_until, now, run.zone))
    if step.wait_for_date is not None:
        spec = step.wait_for_date
        base = (
            run.member.birth_date
            if spec.field == "birth_date"
            else run.member.joined_at.astimezone(run.zone).date()
        )
        if base is None:
            return Outcome(state=SKIPPED, next=EXIT, reason=f"no_{spec.field}")
        return Outcome(due=waits.next_date(spec, base, now, run.zone))
    assert step.wait_for is not None
    hours = step.wait_for.timeout_hours or 0
    return Outcome(
        state=WAITING,
        due=now + timedelta(hours=hours),
        wait_for=step.wait_for.event,
        timeout_step=step.wait_for.on_timeout or default_next(run.spec, step),
        detail={"event": step.wait_for.event},
    )


async def _split(run: Run, step: StepSpec) -> Outcome:
    assert step.split is not None
    when = step.split.when
    if when.segment is not None:
        holds = when.segment in await segment_keys_of(run.s, run.member.id)
    elif when.consent is not None:
        consents = await consents_for(run.s, [run.member.id])
        holds = any(c.channel == when.consent and c.granted for c in consents)
    elif when.tier is not None:
        holds = await conditions.in_tier(run.s, run.file, run.member.id, when.tier, run.now)
    elif when.purchased_within_days is not None:
        since = run.now - timedelta(days=when.purchased_within_days)
        holds = await conditions.purchased_since(run.s, run.member.id, since)
    else:
        holds = run.enrolment.received == bool(when.received)
    target = step.split.then if holds else (step.split.otherwise or default_next(run.spec, step))
    return Outcome(next=target, detail={"condition": holds})
