"""Results for admins: NPS with its confidence interval against a hand-computed example,
answer distributions, drop-off per question, a period, and the free-text CSV."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.storage.database import Database
from loyalty.surveys.answers import AnswerInput
from loyalty.surveys.models import Survey
from loyalty.surveys.results import TextAnswer, as_csv, nps_of
from loyalty.surveys.service import SurveysService
from tests.loyalty.services import add_member
from tests.loyalty.surveys.programme import at, install_text


def test_nps_and_its_interval_match_a_hand_computed_example() -> None:
    # Ten answers: 5 promoters (9, 9, 10, 10, 10), 3 passives (7, 8, 8), 2 detractors (0, 6).
    # P = 0.5, D = 0.2: NPS = 100 * (0.5 - 0.2) = 30.
    # Variance of P - D = ((P + D) - (P - D)^2) / n = (0.7 - 0.09) / 10 = 0.061;
    # SE = 100 * sqrt(0.061) = 24.698; 1.96 * SE = 48.408: the interval is -18.4 to 78.4.
    nps = nps_of([9, 9, 10, 10, 10, 7, 8, 8, 0, 6])
    assert nps is not None
    assert (nps.promoters, nps.passives, nps.detractors) == (5, 3, 2)
    assert (nps.score, nps.low, nps.high) == (30.0, -18.4, 78.4)


def test_nps_interval_stays_within_bounds_and_needs_answers() -> None:
    assert nps_of([]) is None
    everyone = nps_of([10, 10, 9])
    assert everyone is not None and (everyone.score, everyone.low, everyone.high) == (
        100.0,
        100.0,
        100.0,
    )
    one = nps_of([0, 10])
    assert one is not None and one.low == -100.0 and one.high == 100.0


def test_csv_quotes_what_a_spreadsheet_would_run() -> None:
    moment = at("2025-06-04T10:00:00+00:00")
    text = as_csv(
        "bezoek",
        [
            TextAnswer(1, "waarom", moment, "=HYPERLINK()"),
            TextAnswer(2, "waarom", moment, "Koud, nat"),
        ],
    )
    assert text.splitlines() == [
        "survey,response,question,answered_at,text",
        "bezoek,1,waarom,2025-06-04T10:00:00+00:00,'=HYPERLINK()",
        'bezoek,2,waarom,2025-06-04T10:00:00+00:00,"Koud, nat"',
    ]


@pytest.mark.asyncio
async def test_distributions_drop_off_and_a_period(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-06-04T12:00:00+02:00"))
    await install_text(db, clock)
    service = SurveysService(db, clock)
    async with db.unit_of_work(write=False) as uow:
        survey_id = await uow.session.scalar(select(Survey.id))
    assert survey_id is not None
    plans: list[list[AnswerInput]] = [
        [AnswerInput("score", number=2), AnswerInput("waarom", text="Te koud")],
        [AnswerInput("score", number=10), AnswerInput("smaak", choices=["koffie", "thee"])],
        [AnswerInput("score", number=9), AnswerInput("smaak", choices=["koffie"])],
        [AnswerInput("score", number=7)],
    ]
    for n, plan in enumerate(plans):
        member = await add_member(db, clock, f"lid-{n}@example.com")
        rid = (await service.start(member.id, survey_id)).response.id
        for given in plan:
            await service.answer(member.id, rid, given)
        clock.advance(timedelta(days=1))
    results = await service.results(survey_id)
    assert results is not None
    assert (results.started, results.completed) == (4, 1)
    assert results.nps is not None
    assert (results.nps.promoters, results.nps.passives, results.nps.detractors) == (2, 1, 1)
    assert results.nps.score == 25.0
    by_key = {q.question: q for q in results.questions}
    assert {b.value: b.count for b in by_key["smaak"].distribution} == {
        "koffie": 2,
        "thee": 1,
        "chocolade": 0,
    }
    assert [b.value for b in by_key["score"].distribution] == [str(n) for n in range(11)]
    assert by_key["waarom"].distribution == []  # free text: the export
    assert (by_key["waarom"].drop_off, by_key["kanaal"].drop_off) == (1, 2)
    assert by_key["score"].answered == 4 and by_key["sfeer"].answered == 0
    first_day = await service.results(
        survey_id, at("2025-06-04T00:00:00+02:00"), at("2025-06-05T00:00:00+02:00")
    )
    assert first_day is not None and first_day.started == 1 and first_day.completed == 1
    assert [t.text for t in await service.free_text(survey_id)] == ["Te koud"]
