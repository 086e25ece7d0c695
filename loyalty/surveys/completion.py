"""Completing a response, in the transaction of its last answer: the incentive points through
the ledger (once: the response row is locked and only an in-progress response completes),
profile fields filled in from answers, and the events others act on."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import ProfileCompleted, SurveyCompleted, SurveyDetractor, SurveyPromoter
from loyalty.core.outbox import emit
from loyalty.members import service as members
from loyalty.members.profile import MAX_INTERESTS, profile_complete
from loyalty.points import ledger
from loyalty.points.balances import balance_event
from loyalty.points.timeline import expiry_of
from loyalty.programme.store import current_file
from loyalty.programme.surveys_spec import SurveySpec
from loyalty.surveys.logic import Situation
from loyalty.surveys.models import ProfileUpdate, Survey, SurveyResponse
from loyalty.surveys.targeting import COMPLETED

PROMOTER_FROM = 9


async def complete(
    s: AsyncSession,
    response: SurveyResponse,
    survey: Survey,
    spec: SurveySpec,
    situation: Situation,
    now: datetime,
) -> int:
    """Mark the response completed and do what follows; returns the points awarded."""
    response.state = COMPLETED
    response.open_key = None
    response.current_question = None
    response.completed_at = now
    points = survey.incentive_points
    if points > 0:
        await _award(s, response, survey, points, now)
    response.points_awarded = points
    await _enrich(s, response, spec, situation, now)
    nps = next((situation.answers.get(q.key) for q in spec.questions if q.kind == "nps"), None)
    emit(
        s,
        SurveyCompleted(
            member_id=response.member_id,
            survey_id=survey.id,
            survey_key=survey.key,
            survey_version=response.survey_version,
            response_id=response.id,
            points_awarded=points,
            nps=nps,
        ),
        now,
    )
    _feedback(s, response, survey, spec, situation, now)
    return points


async def _award(
    s: AsyncSession, response: SurveyResponse, survey: Survey, points: int, now: datetime
) -> None:
    file = await current_file(s)
    account = await ledger.lock_account(s, response.member_id, now)
    entry = await ledger.credit(
        s,
        account,
        "bonus",
        points,
        occurred_at=now,
        now=now,
        available_at=now,
        expires_at=expiry_of(file.points.expiry, now, file.programme.zone),
        meta=ledger.EntryMeta(
            f"Survey: {survey.title}",
            source_type="survey",
            source_id=response.id,
            rule=survey.key,
            actor="app",
        ),
    )
    await balance_event(s, response.member_id, [entry], now)


def _feedback(
    s: AsyncSession,
    response: SurveyResponse,
    survey: Survey,
    spec: SurveySpec,
    situation: Situation,
    now: datetime,
) -> None:
    """A detractor event for each very low score; a promoter event only when no score in the
    response was low (nobody who just gave a low score is asked for a public review)."""
    low = False
    promoter: int | None = None
    for question in spec.questions:
        score = situation.answers.get(question.key)
        if question.kind not in ("nps", "rating") or not isinstance(score, int):
            continue
        if score <= question.low_score:
            low = True
            event = SurveyDetractor(
                member_id=response.member_id,
                survey_id=survey.id,
                survey_key=survey.key,
                response_id=response.id,
                question=question.key,
                kind=question.kind,
                score=score,
                scale_max=question.range[1],
            )
            emit(s, event, now)
        elif question.kind == "nps" and score >= PROMOTER_FROM:
            promoter = score
    if promoter is not None and not low:
        promoted = SurveyPromoter(
            member_id=response.member_id,
            survey_id=survey.id,
            survey_key=survey.key,
            response_id=response.id,
            score=promoter,
        )
        emit(s, promoted, now)


def _profile_value(field: str, answer: object, current: object) -> object:
    if field == "birth_date":
        return date.fromisoformat(str(answer))
    if field == "interests":
        picked = answer if isinstance(answer, list) else [answer]
        merged = list(current) if isinstance(current, list) else []
        for key in picked:
            interest = str(key).lower()
            if interest not in merged:
                merged.append(interest)
        return merged[:MAX_INTERESTS]
    return answer


async def _enrich(
    s: AsyncSession,
    response: SurveyResponse,
    spec: SurveySpec,
    situation: Situation,
    now: datetime,
) -> None:
    """Answers mapped onto profile fields, each recorded with the survey and the time."""
    mapped = [
        q for q in spec.questions if q.profile_field and situation.answers.get(q.key) is not None
    ]
    if not mapped:
        return
    [member] = await members.members_by_ids(s, [response.member_id])
    was_complete = profile_complete(member)
    for question in mapped:
        field = question.profile_field
        assert field is not None
        answer = situation.answers[question.key]
        value = _profile_value(field, answer, getattr(member, field))
        await members.update_profile(s, member, {field: value}, now)
        s.add(
            ProfileUpdate(
                member_id=member.id,
                field=field,
                value={"value": answer},
                survey_id=response.survey_id,
                response_id=response.id,
                updated_at=now,
            )
        )
    if profile_complete(member) and not was_complete:
        emit(s, ProfileCompleted(member_id=member.id), now)
