"""Starting (or resuming) a survey and answering it, one question at a time.

Starting makes one response per member and survey while it is in progress (the unique
`open_key`): a second device, or two devices at once, get the same response. Answering locks
the response row (SELECT … FOR UPDATE on PostgreSQL; SQLite's single writer), checks the
answer against the current question, moves on by the logic and, after the last question,
completes the response in the same transaction. A refused answer changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError
from loyalty.members import service as members
from loyalty.messaging.budget import lock_contacts, log_contact
from loyalty.points import ledger
from loyalty.programme.store import current_file
from loyalty.programme.surveys_spec import QuestionSpec, SurveySpec
from loyalty.storage.database import Database
from loyalty.surveys import logic
from loyalty.surveys.answers import AnswerInput, check_answer, stored
from loyalty.surveys.catalogue import LIVE, spec_of, version_spec
from loyalty.surveys.completion import complete
from loyalty.surveys.errors import SurveysError
from loyalty.surveys.models import Survey, SurveyAnswer, SurveyResponse
from loyalty.surveys.targeting import (
    COMPLETED,
    EXPIRED,
    IN_PROGRESS,
    Rules,
    SurveyFacts,
    decide,
    held_by_budget,
    member_facts,
    rules_of,
    targets_segment,
)

MESSAGES = {
    SurveysError.SURVEY_NOT_FOUND: "There is no such survey",
    SurveysError.SURVEY_NOT_AVAILABLE: "This survey is not for you now",
    SurveysError.SURVEY_CLOSED: "This survey is closed",
    SurveysError.MEMBER_NOT_ACTIVE: "This member is blocked or closed",
    SurveysError.RESPONSE_NOT_FOUND: "There is no such response",
    SurveysError.RESPONSE_COMPLETED: "This survey was already answered to the end",
    SurveysError.RESPONSE_EXPIRED: "This survey was left unfinished too long",
}


def refusal(reason: SurveysError, field: str = "surveyId") -> DomainError:
    return DomainError(reason, MESSAGES[reason], field)


@dataclass(frozen=True)
class ResponseView:
    """A response with the questions of its version; `points_awarded` by this call."""

    response: SurveyResponse
    spec: SurveySpec
    points_awarded: int = 0

    @property
    def current(self) -> QuestionSpec | None:
        key = self.response.current_question
        return self.spec.question(key) if key is not None else None

    @property
    def progress(self) -> tuple[int, int]:
        """(answered, total): the total counts the questions still ahead in order."""
        answered = self.response.answered
        ahead = logic.remaining(
            self.spec, self.response.current_question, set(self.response.skipped)
        )
        return answered, answered + ahead


def open_key(member_id: int, survey_id: int) -> str:
    return f"{member_id}:{survey_id}"


async def start(db: Database, member_id: int, survey_id: int, now: datetime) -> ResponseView:
    try:
        return await _start(db, member_id, survey_id, now)
    except IntegrityError:
        # Another device started the same survey at the same moment: take that response.
        return await _start(db, member_id, survey_id, now)


async def _start(db: Database, member_id: int, survey_id: int, now: datetime) -> ResponseView:
    async with db.unit_of_work() as uow:
        s = uow.session
        survey = await s.get(Survey, survey_id)
        if survey is None:
            raise refusal(SurveysError.SURVEY_NOT_FOUND)
        # The member's contact lock, then their point account row (the order campaigns take
        # them in; SQLite has one writer): two surveys started at once, or a survey and a
        # message, must not both pass the cool-down or the budget.
        await lock_contacts(s, member_id)
        await ledger.lock_account(s, member_id, now)
        file = await current_file(s)
        rules = rules_of(s, file)
        expire = timedelta(hours=file.surveys.expire_after_hours)
        await _expire_stale(s, member_id, survey_id, now)
        # The targeting in force now; the questions of the survey's current version.
        targeting = spec_of(survey.definition)
        by_segment = targets_segment(targeting)
        facts = await member_facts(s, member_id, rules, now, by_segment=by_segment)
        current = await version_spec(s, survey.id, survey.version)
        reason = decide(survey, targeting, facts, rules, now)
        if reason is not None:
            if _log_if_held(s, survey, targeting, facts, rules, now):
                await uow.commit()  # the refusal's reason stays in the contact log
            raise refusal(reason)
        resumed = facts.open_response(survey.id)
        if resumed is not None:
            response = await s.get(SurveyResponse, resumed.response_id)
            assert response is not None
            spec = await version_spec(s, survey.id, response.survey_version)
            return ResponseView(response, spec)
        trigger = facts.triggers.get(survey.id)
        response = SurveyResponse(
            survey_id=survey.id,
            survey_version=survey.version,
            member_id=member_id,
            state=IN_PROGRESS,
            open_key=open_key(member_id, survey.id),
            current_question=current.questions[0].key,
            answered=0,
            variables={},
            skipped=[],
            hidden=dict(trigger.hidden) if trigger else {},
            points_awarded=0,
            started_at=now,
            updated_at=now,
            expires_at=now + expire,
        )
        s.add(response)
        await s.flush()
        if trigger is not None:
            trigger.response_id = response.id
        await uow.commit()
    return ResponseView(response, current)


def _log_if_held(
    s: AsyncSession,
    survey: Survey,
    targeting: SurveySpec,
    facts: SurveyFacts,
    rules: Rules,
    now: datetime,
) -> bool:
    """A survey not asked because of the contact budget is logged as such."""
    held_by = held_by_budget(survey, targeting, facts, rules, now)
    if held_by is None:
        return False
    log_contact(
        s,
        facts.member_id,
        sender="surveys",
        channel="in_app",
        ref=f"survey:{survey.key}",
        reason=held_by,
        transactional=False,
        now=now,
    )
    return True


async def _expire_stale(s: AsyncSession, member_id: int, survey_id: int, now: datetime) -> None:
    """An unfinished response past its time is expired now, whether or not the job ran."""
    await s.execute(
        update(SurveyResponse)
        .where(
            SurveyResponse.open_key == open_key(member_id, survey_id),
            SurveyResponse.expires_at <= now,
        )
        .values(state=EXPIRED, open_key=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def _locked_response(
    s: AsyncSession, member_id: int, response_id: int, now: datetime
) -> SurveyResponse:
    response = await s.scalar(
        select(SurveyResponse)
        .where(SurveyResponse.id == response_id, SurveyResponse.member_id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if response is None:
        raise refusal(SurveysError.RESPONSE_NOT_FOUND, "responseId")
    if response.state == COMPLETED:
        raise refusal(SurveysError.RESPONSE_COMPLETED, "responseId")
    if response.state == EXPIRED or response.expires_at <= now:
        raise refusal(SurveysError.RESPONSE_EXPIRED, "responseId")
    return response


async def situation_of(s: AsyncSession, response: SurveyResponse, now: datetime) -> logic.Situation:
    """What the logic may read for this response: its answers, variables and hidden values,
    and the member's profile."""
    rows = await s.scalars(select(SurveyAnswer).where(SurveyAnswer.response_id == response.id))
    [member] = await members.members_by_ids(s, [response.member_id])
    birth: date | None = member.birth_date
    profile = {
        "interests": list(member.interests or []),
        "preferred_channel": member.preferred_channel,
        "locale": member.locale,
        "birth_date": birth.isoformat() if birth else None,
        "days_since_joining": (now - member.joined_at).days,
    }
    return logic.Situation(
        answers={row.question: row.value.get("value") for row in rows},
        profile=profile,
        hidden=dict(response.hidden),
        variables=dict(response.variables),
        skipped=set(response.skipped),
    )


async def answer(
    db: Database, member_id: int, response_id: int, given: AnswerInput, now: datetime
) -> ResponseView:
    async with db.unit_of_work() as uow:
        s = uow.session
        response = await _locked_response(s, member_id, response_id, now)
        survey = await s.get(Survey, response.survey_id)
        assert survey is not None
        if survey.state != LIVE or (survey.ends_at is not None and now >= survey.ends_at):
            raise refusal(SurveysError.SURVEY_CLOSED, "responseId")
        spec = await version_spec(s, survey.id, response.survey_version)
        key = response.current_question
        question = spec.question(key) if key is not None else None
        if question is None or given.question != key:
            raise DomainError(
                SurveysError.NOT_CURRENT_QUESTION,
                "Answer the current question",
                "questionId",
            )
        value = check_answer(question, given)
        situation = await situation_of(s, response, now)
        if value is not None:
            situation.answers[question.key] = value
            s.add(
                SurveyAnswer(
                    response_id=response.id,
                    question=question.key,
                    survey_id=survey.id,
                    position=response.answered,
                    value=stored(value),
                    number=value if isinstance(value, int) else None,
                    answered_at=now,
                )
            )
        following = logic.after(spec, question.key, situation)
        response.variables = situation.variables
        response.skipped = sorted(situation.skipped)
        response.answered += 1
        response.current_question = following
        response.updated_at = now
        points = 0
        if following is None:
            points = await complete(s, response, survey, spec, situation, now)
        await uow.commit()
    return ResponseView(response, spec, points)
