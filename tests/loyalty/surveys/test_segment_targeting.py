"""Surveys for a segment: only its members are offered them (listing, the one to ask now,
starting), a programme file naming an unknown segment does not load, and results per segment
count the members who are in it now."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.members import service as members
from loyalty.programme import ProgrammeFileError, parse_programme
from loyalty.segments.membership import refresh_members
from loyalty.segments.models import Segment
from loyalty.storage.database import Database
from loyalty.surveys.answers import AnswerInput
from loyalty.surveys.errors import SurveysError
from loyalty.surveys.models import Survey
from loyalty.surveys.service import SurveysService
from tests.loyalty.services import add_member
from tests.loyalty.surveys.programme import HEADER, at, install_text

SEGMENTS = """\
segments:
  - key: koffiedrinkers
    name: Koffiedrinkers
    rules: {interests: [koffie]}
"""


def programme(segment: str = "koffiedrinkers") -> str:
    return (
        HEADER
        + SEGMENTS
        + "surveys:\n  cooldown_days: 0\n  definitions:\n"
        + "    - key: koffie\n      title: Over onze koffie\n"
        + f"      targeting: {{segment: {segment}}}\n"
        + "      questions:\n"
        + "        - {key: score, prompt: 'Hoe is de koffie?', kind: nps}\n"
        + "    - key: iedereen\n      title: Voor iedereen\n"
        + "      questions:\n"
        + "        - {key: score, prompt: 'Raad je ons aan?', kind: nps}\n"
    )


def test_a_survey_naming_an_unknown_segment_does_not_load() -> None:
    with pytest.raises(ProgrammeFileError) as caught:
        parse_programme(programme("theedrinkers"), "surveys.yaml")
    assert [(p.path, p.line, p.message) for p in caught.value.problems] == [
        (
            "surveys.definitions[0].targeting.segment",
            16,
            "survey koffie names unknown segment 'theedrinkers'",
        )
    ]


async def _refresh(db: Database, clock: FixedClock, *member_ids: int) -> None:
    async with db.unit_of_work() as uow:
        await refresh_members(uow.session, list(member_ids), clock.now())
        await uow.commit()


async def _ids(db: Database) -> dict[str, int]:
    async with db.unit_of_work(write=False) as uow:
        found = {s.key: s.id for s in await uow.session.scalars(select(Survey))}
        found |= {s.key: s.id for s in await uow.session.scalars(select(Segment))}
    return found


async def _drop_coffee(db: Database, clock: FixedClock, member_id: int) -> None:
    async with db.unit_of_work() as uow:
        [member] = await members.members_by_ids(uow.session, [member_id])
        await members.update_profile(uow.session, member, {"interests": ["thee"]}, clock.now())
        await uow.commit()
    await _refresh(db, clock, member_id)


@pytest.mark.asyncio
async def test_only_the_segments_members_are_offered_it(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-06-04T12:00:00+02:00"))
    await install_text(db, clock, programme())
    fan = await add_member(db, clock, "fan@example.com", profile={"interests": ["koffie"]})
    other = await add_member(db, clock, "other@example.com", profile={"interests": ["thee"]})
    await _refresh(db, clock, fan.id, other.id)
    ids = await _ids(db)
    service = SurveysService(db, clock)

    assert [m.survey.key for m in await service.surveys(fan.id)] == ["koffie", "iedereen"]
    assert [m.survey.key for m in await service.surveys(other.id)] == ["iedereen"]
    pending = await service.pending(other.id)
    assert pending is not None and pending.survey.key == "iedereen"
    with pytest.raises(DomainError) as refused:
        await service.start(other.id, ids["koffie"])
    assert refused.value.code == SurveysError.SURVEY_NOT_AVAILABLE
    assert (await service.start(fan.id, ids["koffie"])).response.member_id == fan.id

    # Out of the segment: no longer offered (what was started may still be finished).
    await _drop_coffee(db, clock, fan.id)
    fan_now = {m.survey.key: m.state for m in await service.surveys(fan.id)}
    assert fan_now == {"koffie": "in_progress", "iedereen": "available"}
    late = await add_member(db, clock, "late@example.com", profile={"interests": ["koffie"]})
    assert [m.survey.key for m in await service.surveys(late.id)] == ["iedereen"]  # not yet in
    await _refresh(db, clock, late.id)
    await _drop_coffee(db, clock, late.id)
    assert [m.survey.key for m in await service.surveys(late.id)] == ["iedereen"]


@pytest.mark.asyncio
async def test_results_per_segment_count_its_members_now(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-06-04T12:00:00+02:00"))
    await install_text(db, clock, programme())
    ids = await _ids(db)
    service = SurveysService(db, clock)
    scores = {"a@example.com": (["koffie"], 10), "b@example.com": (["koffie"], 3)}
    scores |= {"c@example.com": (["thee"], 9), "d@example.com": ([], 0)}
    member_ids: dict[str, int] = {}
    for email, (interests, score) in scores.items():
        member = await add_member(db, clock, email, profile={"interests": interests})
        member_ids[email] = member.id
        rid = (await service.start(member.id, ids["iedereen"])).response.id
        await service.answer(member.id, rid, AnswerInput("score", number=score))
    await _refresh(db, clock, *member_ids.values())

    everyone = await service.results(ids["iedereen"])
    assert everyone is not None and everyone.nps is not None
    assert (everyone.completed, everyone.nps.promoters, everyone.nps.detractors) == (4, 2, 2)
    fans = await service.results(ids["iedereen"], segment_id=ids["koffiedrinkers"])
    assert fans is not None and fans.nps is not None
    assert (fans.started, fans.completed) == (2, 2)
    assert (fans.nps.promoters, fans.nps.detractors, fans.nps.score) == (1, 1, 0.0)
    [score] = fans.questions
    assert score.answered == 2

    # The segment as it is now: a member who left it no longer counts.
    await _drop_coffee(db, clock, member_ids["b@example.com"])
    fans = await service.results(ids["iedereen"], segment_id=ids["koffiedrinkers"])
    assert fans is not None and fans.nps is not None
    assert (fans.completed, fans.nps.score) == (1, 100.0)
