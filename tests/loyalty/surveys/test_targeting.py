"""Who is asked which survey, and how often, across many simulated days: once per member,
every N days, the global cool-down, the contact budget shared with pushes, sampling, start
and end dates, and surveys that follow a purchase or an event after a delay."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.core.events import PointsExpiring
from loyalty.core.outbox import emit
from loyalty.messaging.budget import Budget, install_fallback
from loyalty.messaging.contacts import contacts_since, push_contact
from loyalty.messaging.models import ContactLog, NotificationDelivery
from loyalty.points.service import EventInput, MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.storage.database import Database
from loyalty.surveys.answers import AnswerInput
from loyalty.surveys.errors import SurveysError
from loyalty.surveys.models import Survey
from loyalty.surveys.service import SurveysService
from loyalty.surveys.targeting import sampled
from tests.loyalty.services import add_member
from tests.loyalty.surveys.programme import HEADER, at, install_text

pytestmark = pytest.mark.asyncio

ONE_QUESTION = """\
      questions:
        - key: score
          prompt: Hoe waarschijnlijk is het dat je ons aanraadt?
          kind: nps
"""


def programme(cooldown: int, *surveys: tuple[str, str]) -> str:
    text = HEADER + f"surveys:\n  cooldown_days: {cooldown}\n  definitions:\n"
    for key, targeting in surveys:
        text += f"    - key: {key}\n      title: {key}\n      targeting: {targeting}\n"
        text += ONE_QUESTION
    return text


async def _ids(db: Database) -> dict[str, int]:
    async with db.unit_of_work(write=False) as uow:
        return {s.key: s.id for s in await uow.session.scalars(select(Survey))}


async def _take_first(service: SurveysService, member_id: int) -> str | None:
    """Take the first survey offered now, to the end; its key (None: nothing offered)."""
    offered = await service.surveys(member_id)
    if not offered:
        return None
    view = await service.start(member_id, offered[0].survey.id)
    await service.answer(member_id, view.response.id, AnswerInput("score", number=8))
    return offered[0].survey.key


async def test_frequency_rules_hold_over_a_year_of_days(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-01-01T10:00:00+01:00"))
    text = programme(7, ("maandelijks", "{repeat_every_days: 30}"), ("eenmalig", "{}"))
    await install_text(db, clock, text)
    member_id = (await add_member(db, clock)).id
    service = SurveysService(db, clock)
    asked: list[tuple[int, str]] = []
    for day in range(365):
        # Twice a day, at different hours: being offered must not depend on when one looks.
        for hour in (0, 9):
            clock.set(at("2025-01-01T10:00:00+01:00") + timedelta(days=day, hours=hour))
            key = await _take_first(service, member_id)
            if key is not None:
                asked.append((day, key))
    days = {key: [d for d, k in asked if k == key] for key in ("maandelijks", "eenmalig")}
    assert len(days["eenmalig"]) == 1
    monthly = days["maandelijks"]
    assert all(b - a >= 30 for a, b in itertools.pairwise(monthly))
    assert len(monthly) >= 11  # asked again as soon as the rules allow
    every = sorted(d for d, _ in asked)
    assert all(b - a >= 7 for a, b in itertools.pairwise(every))  # the cool-down
    assert asked[:2] == [(0, "maandelijks"), (7, "eenmalig")]


async def test_the_contact_budget_counts_surveys_with_messages(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2025-03-01T10:00:00+01:00"))
    surveys = [(f"vraag-{n}", "{}") for n in range(6)]
    await install_text(db, clock, programme(0, *surveys))
    member_id = (await add_member(db, clock)).id
    install_fallback(db.info, Budget(per_day=2, per_week=2, quiet=None))
    service = SurveysService(db, clock)
    asked: list[int] = []
    for day in range(28):
        clock.set(at("2025-03-01T10:00:00+01:00") + timedelta(days=day))
        while await _take_first(service, member_id) is not None:
            asked.append(day)
    # At most two surveys in each (ISO, Monday to Sunday) week of the member, however many
    # are waiting: 1 March 2025 is a Saturday, so the next two come on Monday 3 March.
    assert asked == [0, 0, 2, 2, 9, 9]


async def test_sampling_is_the_same_members_every_time(db: Database, clock: FixedClock) -> None:
    chosen = [m for m in range(1, 2001) if sampled("panel", m, 30)]
    assert chosen == [m for m in range(1, 2001) if sampled("panel", m, 30)]
    assert 500 < len(chosen) < 700
    assert chosen != [m for m in range(1, 2001) if sampled("ander-panel", m, 30)]
    clock.set(at("2025-03-01T10:00:00+01:00"))
    await install_text(db, clock, programme(0, ("panel", "{sample_percent: 30}")))
    service = SurveysService(db, clock)
    for n in range(12):
        member = await add_member(db, clock, f"lid-{n}@example.com")
        listed = bool(await service.surveys(member.id))
        assert listed == sampled("panel", member.id, 30)


async def test_start_and_end_dates(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-03-01T10:00:00+01:00"))
    window = '{starts: "2025-03-10T00:00:00", ends: "2025-03-20T00:00:00"}'
    await install_text(db, clock, programme(0, ("voorjaar", window)))
    member_id = (await add_member(db, clock)).id
    service = SurveysService(db, clock)
    survey_id = (await _ids(db))["voorjaar"]
    for when, shown in [
        ("2025-03-09T23:59:00+01:00", False),
        ("2025-03-10T00:00:00+01:00", True),
        ("2025-03-19T23:59:00+01:00", True),
        ("2025-03-20T00:00:00+01:00", False),
    ]:
        clock.set(at(when))
        assert bool(await service.surveys(member_id)) is shown, when
    with pytest.raises(DomainError) as closed:
        await service.start(member_id, survey_id)
    assert closed.value.code == SurveysError.SURVEY_CLOSED


async def test_a_survey_follows_a_purchase_after_its_delay(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-03-01T10:00:00+01:00"))
    targeting = "{after: purchase, delay_hours: 2, within_hours: 24, repeat_every_days: 1}"
    text = programme(0, ("na-aankoop", targeting)).replace(
        "      targeting:", "      hidden: [store, total]\n      targeting:"
    )
    await install_text(db, clock, text)
    member_id = (await add_member(db, clock)).id
    service = SurveysService(db, clock)
    assert await service.surveys(member_id) == []
    await PointsService(db, clock).record_purchase(
        PurchaseInput(
            MemberRef(member_id=member_id),
            "bon-1",
            [PurchaseLine("latte", Decimal(1), Decimal("3.50"))],
            store="centrum",
        )
    )
    clock.advance(timedelta(hours=1))
    assert await service.surveys(member_id) == []  # not before the delay
    clock.advance(timedelta(hours=1))
    [due] = await service.surveys(member_id)
    view = await service.start(member_id, due.survey.id)
    assert view.response.hidden == {"store": "centrum", "total": "3.50"}
    await service.answer(member_id, view.response.id, AnswerInput("score", number=9))
    clock.advance(timedelta(days=2))
    assert await service.surveys(member_id) == []  # that purchase was used
    await PointsService(db, clock).record_purchase(
        PurchaseInput(
            MemberRef(member_id=member_id),
            "bon-2",
            [PurchaseLine("latte", Decimal(1), Decimal("3.50"))],
        )
    )
    clock.advance(timedelta(hours=27))
    assert await service.surveys(member_id) == []  # its window has passed


async def test_a_survey_follows_an_event(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-03-01T10:00:00+01:00"))
    text = programme(0, ("na-review", "{after: event, event: review_written}"))
    await install_text(db, clock, text)
    member_id = (await add_member(db, clock)).id
    service = SurveysService(db, clock)
    points = PointsService(db, clock)
    await points.record_event(EventInput(MemberRef(member_id=member_id), "e-1", "check_in"))
    assert await service.surveys(member_id) == []
    await points.record_event(EventInput(MemberRef(member_id=member_id), "e-2", "review_written"))
    assert [m.survey.key for m in await service.surveys(member_id)] == ["na-review"]


async def test_a_marketing_push_uses_the_budget_a_survey_would_use(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2025-03-01T10:00:00+01:00"))
    await install_text(db, clock, programme(0, ("vraag", "{}")))
    member_id = (await add_member(db, clock)).id
    install_fallback(db.info, Budget(per_day=1, per_week=1, quiet=None))
    service = SurveysService(db, clock)
    assert await service.surveys(member_id) != []
    async with db.unit_of_work() as uow:
        expiring = PointsExpiring(member_id=member_id, points=5, expires_at=clock.now())
        row = emit(uow.session, expiring, clock.now())
        await uow.session.flush()
        uow.session.add(
            NotificationDelivery(
                event_id=row.id,
                channel="push",
                target="1",
                member_id=member_id,
                kind="marketing",
                message=None,
                status="delivered",
                attempts=1,
                next_attempt_at=clock.now(),
                created_at=clock.now(),
                delivered_at=clock.now(),
            )
        )
        await uow.commit()
    assert await service.surveys(member_id) == []
    # Starting it anyway is refused, and the contact log says why.
    with pytest.raises(DomainError) as refused:
        await service.start(member_id, (await _ids(db))["vraag"])
    assert refused.value.code == SurveysError.SURVEY_NOT_AVAILABLE
    async with db.unit_of_work(write=False) as uow:
        logged = list(await uow.session.scalars(select(ContactLog)))
    assert [(c.sender, c.sent, c.reason) for c in logged] == [("surveys", False, "weekly_cap")]
    async with db.unit_of_work(write=False) as uow:
        since = clock.now() - timedelta(days=7)
        assert await contacts_since(uow.session, [member_id], since) == {
            member_id: {push_contact(row.id)}
        }
    clock.advance(timedelta(days=8))
    assert await service.surveys(member_id) != []


async def test_two_surveys_started_at_once_keep_the_cool_down(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2025-03-01T10:00:00+01:00"))
    await install_text(db, clock, programme(7, ("eerste", "{}"), ("tweede", "{}")))
    member_id = (await add_member(db, clock)).id
    service = SurveysService(db, clock)
    ids = await _ids(db)
    outcomes = await asyncio.gather(
        service.start(member_id, ids["eerste"]),
        service.start(member_id, ids["tweede"]),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 1 and refused[0].code == SurveysError.SURVEY_NOT_AVAILABLE
