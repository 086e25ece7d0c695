"""Taking a survey: start or resume, answers checked against the current question, the
logic's branches, completion with its points once, profile enrichment, the follow-up
events, and unfinished responses expiring."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from loyalty import jobs
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.core.models import OutboxEvent
from loyalty.members.models import Member
from loyalty.points.models import LedgerEntry
from loyalty.storage.database import Database
from loyalty.surveys.answers import AnswerInput
from loyalty.surveys.errors import SurveysError
from loyalty.surveys.models import ProfileUpdate, Survey, SurveyAnswer, SurveyResponse
from loyalty.surveys.service import SurveysService
from tests.loyalty.services import add_member
from tests.loyalty.surveys.programme import at, install_text

pytestmark = pytest.mark.asyncio


async def _ready(db: Database, clock: FixedClock) -> tuple[SurveysService, int, int]:
    clock.set(at("2025-06-04T12:00:00+02:00"))
    await install_text(db, clock)
    member = await add_member(db, clock)
    async with db.unit_of_work(write=False) as uow:
        survey_id = await uow.session.scalar(select(Survey.id))
    assert survey_id is not None
    return SurveysService(db, clock), member.id, survey_id


async def _topics(db: Database) -> list[str]:
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id))
        return [t for t in rows if t.startswith(("survey.", "balance.", "member."))]


async def _points(db: Database, member_id: int) -> list[int]:
    async with db.unit_of_work(write=False) as uow:
        query = select(LedgerEntry.points).where(LedgerEntry.member_id == member_id)
        return list(await uow.session.scalars(query))


async def test_a_low_score_branches_to_why_and_ends_with_points_once(
    db: Database, clock: FixedClock
) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    [listed] = await service.surveys(member_id)
    assert listed.state == "available" and listed.survey.incentive_points == 25

    view = await service.start(member_id, survey_id)
    assert view.current is not None and view.current.key == "score"
    assert view.progress == (0, 6)
    view = await service.answer(member_id, view.response.id, AnswerInput("score", number=3))
    assert view.current is not None and view.current.key == "waarom"
    assert view.points_awarded == 0
    done = await service.answer(member_id, view.response.id, AnswerInput("waarom", text="Koud"))
    assert done.current is None and done.response.state == "completed"
    assert done.points_awarded == 25 and done.progress == (2, 2)
    assert done.response.variables == {"unhappy": True}
    assert await _points(db, member_id) == [25]
    topics = await _topics(db)
    assert topics.count("survey.completed") == 1 and topics.count("survey.detractor") == 1
    assert "survey.promoter" not in topics  # nobody who just gave a low score

    with pytest.raises(DomainError) as again:
        await service.answer(member_id, view.response.id, AnswerInput("waarom", text="Koud"))
    assert again.value.code == SurveysError.RESPONSE_COMPLETED
    assert await _points(db, member_id) == [25]
    assert await service.surveys(member_id) == []  # once per member


async def test_a_promoter_fills_in_the_profile_and_is_told_apart(
    db: Database, clock: FixedClock
) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    view = await service.start(member_id, survey_id)
    rid = view.response.id
    await service.answer(member_id, rid, AnswerInput("score", number=10))
    view = await service.answer(member_id, rid, AnswerInput("smaak", choices=["thee", "koffie"]))
    assert view.current is not None and view.current.key == "kanaal"
    await service.answer(member_id, rid, AnswerInput("kanaal", choices=["push"]))
    await service.answer(member_id, rid, AnswerInput("sfeer", number=5))
    done = await service.answer(member_id, rid, AnswerInput("jarig", day=date(1990, 3, 14)))
    assert done.response.state == "completed" and done.progress == (5, 5)
    async with db.unit_of_work(write=False) as uow:
        member = await uow.session.get(Member, member_id)
        assert member is not None
        assert member.interests == ["koffie", "thee"]
        assert member.preferred_channel == "push"
        assert member.birth_date == date(1990, 3, 14)
        updates = list(await uow.session.scalars(select(ProfileUpdate)))
    assert {(u.field, u.survey_id, u.response_id) for u in updates} == {
        ("interests", survey_id, rid),
        ("preferred_channel", survey_id, rid),
        ("birth_date", survey_id, rid),
    }
    assert all(u.updated_at == clock.now() for u in updates)
    topics = await _topics(db)
    assert "survey.promoter" in topics and "survey.detractor" not in topics


async def test_a_very_low_rating_is_a_detractor_too(db: Database, clock: FixedClock) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    rid = (await service.start(member_id, survey_id)).response.id
    await service.answer(member_id, rid, AnswerInput("score", number=9))  # a promoter, but
    await service.answer(member_id, rid, AnswerInput("smaak", choices=["thee"]))
    await service.answer(member_id, rid, AnswerInput("kanaal"))  # optional, passed by
    await service.answer(member_id, rid, AnswerInput("sfeer", number=1))  # the lowest
    await service.answer(member_id, rid, AnswerInput("jarig"))
    topics = await _topics(db)
    assert topics.count("survey.detractor") == 1
    assert "survey.promoter" not in topics  # a low score in the same survey: no review ask


async def test_a_passive_falls_through_to_the_next_question(
    db: Database, clock: FixedClock
) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    rid = (await service.start(member_id, survey_id)).response.id
    view = await service.answer(member_id, rid, AnswerInput("score", number=8))
    assert view.current is not None and view.current.key == "waarom"
    done = await service.answer(member_id, rid, AnswerInput("waarom"))  # optional: passed by
    assert done.response.state == "completed"
    assert not {"survey.detractor", "survey.promoter"} & set(await _topics(db))


BAD = [
    (AnswerInput("smaak", choices=["koffie"]), SurveysError.NOT_CURRENT_QUESTION),
    (AnswerInput("score"), SurveysError.ANSWER_REQUIRED),
    (AnswerInput("score", number=11), SurveysError.OUT_OF_RANGE),
    (AnswerInput("score", number=-1), SurveysError.OUT_OF_RANGE),
    (AnswerInput("score", text="tien"), SurveysError.WRONG_ANSWER_KIND),
]
BAD_LATER = [
    (AnswerInput("smaak", choices=["bier"]), SurveysError.UNKNOWN_CHOICE),
    (AnswerInput("smaak", choices=["koffie", "thee", "chocolade"]), SurveysError.TOO_MANY_PICKS),
    (AnswerInput("smaak"), SurveysError.ANSWER_REQUIRED),
]


async def _unchanged(db: Database, rid: int) -> tuple[int, str | None, int]:
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.get(SurveyResponse, rid)
        assert row is not None
        count = await uow.session.scalar(select(func.count()).select_from(SurveyAnswer))
        return row.answered, row.current_question, count or 0


async def test_bad_answers_are_refused_with_their_code_and_change_nothing(
    db: Database, clock: FixedClock
) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    rid = (await service.start(member_id, survey_id)).response.id
    before = await _unchanged(db, rid)
    for given, code in BAD:
        with pytest.raises(DomainError) as refused:
            await service.answer(member_id, rid, given)
        assert refused.value.code == code, given
    assert await _unchanged(db, rid) == before
    await service.answer(member_id, rid, AnswerInput("score", number=9))
    before = await _unchanged(db, rid)
    for given, code in BAD_LATER:
        with pytest.raises(DomainError) as refused:
            await service.answer(member_id, rid, given)
        assert refused.value.code == code, given
    assert await _unchanged(db, rid) == before
    await service.answer(member_id, rid, AnswerInput("smaak", choices=["koffie"]))
    await service.answer(member_id, rid, AnswerInput("kanaal"))
    await service.answer(member_id, rid, AnswerInput("sfeer", number=3))
    with pytest.raises(DomainError) as long:
        await service.answer(member_id, rid, AnswerInput("jarig", text="x"))
    assert long.value.code == SurveysError.WRONG_ANSWER_KIND
    other = await add_member(db, clock, "other@example.com")
    with pytest.raises(DomainError) as theirs:
        await service.answer(other.id, rid, AnswerInput("jarig"))
    assert theirs.value.code == SurveysError.RESPONSE_NOT_FOUND


async def test_text_over_its_limit_is_refused(db: Database, clock: FixedClock) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    rid = (await service.start(member_id, survey_id)).response.id
    await service.answer(member_id, rid, AnswerInput("score", number=2))
    with pytest.raises(DomainError) as refused:
        await service.answer(member_id, rid, AnswerInput("waarom", text="x" * 41))
    assert refused.value.code == SurveysError.TEXT_TOO_LONG
    with pytest.raises(DomainError) as control:
        await service.answer(member_id, rid, AnswerInput("waarom", text="a\x00b"))
    assert control.value.code == SurveysError.INVALID_TEXT


async def test_starting_again_resumes_the_same_response(db: Database, clock: FixedClock) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    first, second = await asyncio.gather(
        service.start(member_id, survey_id), service.start(member_id, survey_id)
    )
    assert first.response.id == second.response.id
    await service.answer(member_id, first.response.id, AnswerInput("score", number=9))
    clock.advance(timedelta(hours=1))
    resumed = await service.start(member_id, survey_id)
    assert resumed.response.id == first.response.id
    assert resumed.current is not None and resumed.current.key == "smaak"
    [listed] = await service.surveys(member_id)
    assert listed.state == "in_progress" and listed.response_id == first.response.id


async def test_concurrent_duplicate_last_answers_award_once(
    db: Database, clock: FixedClock
) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    rid = (await service.start(member_id, survey_id)).response.id
    await service.answer(member_id, rid, AnswerInput("score", number=1))
    last = AnswerInput("waarom", text="Te druk")
    outcomes = await asyncio.gather(
        *(service.answer(member_id, rid, last) for _ in range(4)), return_exceptions=True
    )
    awarded = [o.points_awarded for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert awarded == [25]
    assert all(
        isinstance(e, DomainError) and e.code == SurveysError.RESPONSE_COMPLETED for e in refused
    )
    assert await _points(db, member_id) == [25]
    assert (await _topics(db)).count("survey.completed") == 1


async def test_unfinished_responses_expire(db: Database, clock: FixedClock) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    rid = (await service.start(member_id, survey_id)).response.id
    clock.advance(timedelta(hours=47))
    assert await jobs.expire_responses(db, clock.now()) == 0
    clock.advance(timedelta(hours=1))
    with pytest.raises(DomainError) as late:
        await service.answer(member_id, rid, AnswerInput("score", number=9))
    assert late.value.code == SurveysError.RESPONSE_EXPIRED
    assert await jobs.run_jobs(db, clock, only=["surveys"]) == {"surveys": 1}
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.get(SurveyResponse, rid)
        assert row is not None and (row.state, row.open_key) == ("expired", None)
    with pytest.raises(DomainError) as again:
        await service.start(member_id, survey_id)  # once per member: asked already
    assert again.value.code == SurveysError.SURVEY_NOT_AVAILABLE


async def test_a_closed_survey_takes_no_more_answers(db: Database, clock: FixedClock) -> None:
    service, member_id, survey_id = await _ready(db, clock)
    rid = (await service.start(member_id, survey_id)).response.id
    await install_text(db, clock, (await _text()).replace("incentive_points: 25", "state: closed"))
    with pytest.raises(DomainError) as closed:
        await service.answer(member_id, rid, AnswerInput("score", number=9))
    assert closed.value.code == SurveysError.SURVEY_CLOSED
    assert await service.surveys(member_id) == []


async def _text() -> str:
    from tests.loyalty.surveys.programme import PROGRAMME

    return PROGRAMME


async def test_the_demo_asks_a_branching_survey_with_an_incentive(
    db: Database, clock: FixedClock
) -> None:
    from loyalty.demo.data import DEMO_MEMBERS, demo_member, load_demo
    from tests.loyalty.services import cheap_hasher

    await load_demo(db, clock, cheap_hasher())
    anna = await demo_member(db, DEMO_MEMBERS[0].email)
    assert anna is not None
    service = SurveysService(db, clock)
    pending = await service.pending(anna.id)
    assert pending is not None and pending.survey.key == "hoe-was-je-bezoek"
    view = await service.start(anna.id, pending.survey.id)
    view = await service.answer(anna.id, view.response.id, AnswerInput("aanraden", number=3))
    assert view.current is not None and view.current.key == "wat-kan-beter"
    done = await service.answer(anna.id, view.response.id, AnswerInput("wat-kan-beter"))
    assert done.points_awarded == 25
