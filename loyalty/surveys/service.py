"""Surveys for a member (what they may take now, and the one to ask now), starting and
answering them, and what admins read: a survey and its results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from loyalty.core.clock import Clock
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.surveys import flow, results
from loyalty.surveys.answers import AnswerInput
from loyalty.surveys.catalogue import LIVE, spec_of, version_spec
from loyalty.surveys.flow import ResponseView
from loyalty.surveys.models import Survey, SurveyResponse
from loyalty.surveys.results import SurveyResults, TextAnswer
from loyalty.surveys.targeting import (
    IN_PROGRESS,
    decide,
    member_facts,
    rules_of,
    targets_segment,
)

__all__ = ["AnswerInput", "MemberSurvey", "ResponseView", "SurveyResults", "SurveysService"]

AVAILABLE = "available"


@dataclass(frozen=True)
class MemberSurvey:
    """A survey as one member sees it: AVAILABLE, or IN_PROGRESS with their response."""

    survey: Survey
    state: str
    response_id: int | None = None


# Built once: the home screen asks for the pending survey on every request.
_LIVE = select(Survey).where(Survey.state == LIVE).order_by(Survey.id)


class SurveysService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def surveys(self, member_id: int) -> list[MemberSurvey]:
        """The surveys this member may take now: in progress first, then by id."""
        now = self.clock.now()
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            rules = rules_of(s, await current_file(s))
            live = [(survey, spec_of(survey.definition)) for survey in await s.scalars(_LIVE)]
            if not live:
                return []  # nothing to ask: the member's facts are not needed
            by_segment = any(targets_segment(spec) for _, spec in live)
            facts = await member_facts(s, member_id, rules, now, by_segment=by_segment)
            found: list[MemberSurvey] = []
            for survey, spec in live:
                if decide(survey, spec, facts, rules, now) is not None:
                    continue
                mine = facts.open_response(survey.id)
                if mine is not None:
                    found.append(MemberSurvey(survey, IN_PROGRESS, mine.response_id))
                else:
                    found.append(MemberSurvey(survey, AVAILABLE))
        return sorted(found, key=lambda m: (m.state != IN_PROGRESS, m.survey.id))

    async def pending(self, member_id: int) -> MemberSurvey | None:
        """The survey to ask this member now (the one they started, else the first), or None."""
        found = await self.surveys(member_id)
        return found[0] if found else None

    async def start(self, member_id: int, survey_id: int) -> ResponseView:
        return await flow.start(self.db, member_id, survey_id, self.clock.now())

    async def answer(self, member_id: int, response_id: int, given: AnswerInput) -> ResponseView:
        return await flow.answer(self.db, member_id, response_id, given, self.clock.now())

    async def response(self, member_id: int, response_id: int) -> ResponseView | None:
        """One of the member's responses as it is now."""
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            row = await s.get(SurveyResponse, response_id)
            if row is None or row.member_id != member_id:
                return None
            return ResponseView(row, await version_spec(s, row.survey_id, row.survey_version))

    async def survey(self, survey_id: int) -> Survey | None:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.session.get(Survey, survey_id)

    async def results(
        self,
        survey_id: int,
        since: datetime | None = None,
        until: datetime | None = None,
        segment_id: int | None = None,
    ) -> SurveyResults | None:
        """Results of responses started in [since, until), of the segment's members now."""
        async with self.db.unit_of_work(write=False) as uow:
            return await results.survey_results(uow.session, survey_id, since, until, segment_id)

    async def free_text(self, survey_id: int) -> list[TextAnswer]:
        async with self.db.unit_of_work(write=False) as uow:
            return await results.free_text(uow.session, survey_id)
