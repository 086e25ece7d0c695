"""Who is asked which survey, and when: the survey's state and dates, sampling, its own
frequency (once, or every N days), a trigger (after a purchase or an event, with a delay),
the global cool-down between any two surveys, the contact budget shared with messages, and
a segment the member must be in now.

`decide` is a pure function over the facts `member_facts` reads, so listing and starting
ask the same question and get the same answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import NotFound
from loyalty.members import service as members
from loyalty.messaging.budget import Budget, budget_in_force, cap_reason, window_start, zone_of
from loyalty.messaging.contacts import contact_times
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.surveys_spec import SurveySpec
from loyalty.segments.membership import segment_keys_of
from loyalty.storage import direct
from loyalty.surveys.catalogue import DRAFT, LIVE
from loyalty.surveys.errors import SurveysError
from loyalty.surveys.models import Survey, SurveyResponse, SurveyTrigger

IN_PROGRESS, COMPLETED, EXPIRED = "in_progress", "completed", "expired"


@dataclass(frozen=True)
class Rules:
    """What holds across surveys: the cool-down and the one contact budget (its caps per
    day and week in the member's time zone, else `zone`, the programme's)."""

    cooldown: timedelta
    budget: Budget
    zone: ZoneInfo


@dataclass(frozen=True)
class Asked:
    survey_id: int
    response_id: int
    state: str
    started_at: datetime


@dataclass
class SurveyFacts:
    """What the checks need to know about a member."""

    member_id: int
    active: bool
    asked: list[Asked] = field(default_factory=list)
    # The trigger that makes each survey due now (the earliest), by survey id.
    triggers: dict[int, SurveyTrigger] = field(default_factory=dict)
    # Why the contact budget holds surveys back now (daily_cap, weekly_cap), or None.
    held_by: str | None = None
    # Keys of the segments the member is in now (read only when a survey names a segment).
    segments: frozenset[str] = frozenset()

    def open_response(self, survey_id: int) -> Asked | None:
        return next(
            (a for a in self.asked if a.survey_id == survey_id and a.state == IN_PROGRESS), None
        )


class _Timed(Protocol):
    state: str
    expires_at: datetime


def _state_at(response: _Timed, now: datetime) -> str:
    """The response's state now (a response or its row): an unfinished one past its time is
    expired, job or not."""
    if response.state == IN_PROGRESS and response.expires_at <= now:
        return EXPIRED
    return response.state


def rules_of(s: AsyncSession, file: ProgrammeFile) -> Rules:
    budget = budget_in_force(s, file.campaigns.contact)
    return Rules(timedelta(days=file.surveys.cooldown_days), budget, file.programme.zone)


def sampled(survey_key: str, member_id: int, percent: int) -> bool:
    """Whether the member is in the survey's sample: the same answer every time."""
    if percent >= 100:
        return True
    digest = hashlib.sha256(f"{survey_key}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


# Built once: the home screen's pending survey reads these on every request.
_RESPONSES = (
    select(
        SurveyResponse.survey_id,
        SurveyResponse.id,
        SurveyResponse.state,
        SurveyResponse.expires_at,
        SurveyResponse.started_at,
    )
    .where(SurveyResponse.member_id == bindparam("member"))
    .order_by(SurveyResponse.started_at)
)
_DUE_TRIGGERS = (
    select(SurveyTrigger)
    .where(
        SurveyTrigger.member_id == bindparam("member"),
        SurveyTrigger.response_id.is_(None),
        SurveyTrigger.due_at <= bindparam("now"),
        SurveyTrigger.expires_at > bindparam("now"),
    )
    .order_by(SurveyTrigger.due_at, SurveyTrigger.id)
)


async def member_facts(
    s: AsyncSession, member_id: int, rules: Rules, now: datetime, *, by_segment: bool = False
) -> SurveyFacts:
    """What the checks read about the member; their segments only when `by_segment`."""
    member = await members.member_by_id(s, member_id)
    if member is None:
        raise NotFound("Member", "member")
    asked = [
        Asked(r.survey_id, r.id, _state_at(r, now), r.started_at)
        for r in await direct.rows(s, _RESPONSES, {"member": member_id})
    ]
    triggers: dict[int, SurveyTrigger] = {}
    for trigger in await s.scalars(_DUE_TRIGGERS, {"member": member_id, "now": now}):
        triggers.setdefault(trigger.survey_id, trigger)
    zone = zone_of(member, rules.zone)
    had = (await contact_times(s, [member_id], window_start(now, zone)))[member_id]
    held_by = cap_reason(rules.budget, had, now, zone)
    segments = await segment_keys_of(s, member_id) if by_segment else frozenset()
    return SurveyFacts(member_id, member.status == "active", asked, triggers, held_by, segments)


def targets_segment(spec: SurveySpec) -> bool:
    return spec.targeting.segment is not None


def decide(
    survey: Survey, spec: SurveySpec, facts: SurveyFacts, rules: Rules, now: datetime
) -> SurveysError | None:
    """Why the member may not be asked this survey now (None: they may)."""
    if survey.state == DRAFT:
        return SurveysError.SURVEY_NOT_FOUND
    if survey.state != LIVE or (survey.ends_at is not None and now >= survey.ends_at):
        return SurveysError.SURVEY_CLOSED
    if not facts.active:
        return SurveysError.MEMBER_NOT_ACTIVE
    if facts.open_response(survey.id) is not None:
        return None  # resuming is always allowed while the survey runs
    if survey.starts_at is not None and now < survey.starts_at:
        return SurveysError.SURVEY_NOT_AVAILABLE
    if not _allowed_now(survey, spec, facts, rules, now) or facts.held_by is not None:
        return SurveysError.SURVEY_NOT_AVAILABLE
    return None


def held_by_budget(
    survey: Survey, spec: SurveySpec, facts: SurveyFacts, rules: Rules, now: datetime
) -> str | None:
    """The budget's reason when it alone keeps this survey from the member now."""
    if facts.held_by is None or facts.open_response(survey.id) is not None:
        return None
    return facts.held_by if _allowed_now(survey, spec, facts, rules, now) else None


def _allowed_now(
    survey: Survey, spec: SurveySpec, facts: SurveyFacts, rules: Rules, now: datetime
) -> bool:
    targeting = spec.targeting
    if targeting.segment is not None and targeting.segment not in facts.segments:
        return False
    if not sampled(survey.key, facts.member_id, targeting.sample_percent):
        return False
    own = [a for a in facts.asked if a.survey_id == survey.id]
    if own and targeting.repeat_every_days is None:
        return False
    if own and now < own[-1].started_at + timedelta(days=targeting.repeat_every_days or 0):
        return False
    if facts.asked and now < max(a.started_at for a in facts.asked) + rules.cooldown:
        return False
    return targeting.after is None or survey.id in facts.triggers
