"""Offers for a segment: eligibility reads the membership (with the personalisation
consent), entering the segment grants the offer, leaving it withdraws it; and the programme
file refuses references to segments, tiers and stores it does not have, at their line."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from api.wiring import build_reactions
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.core.events import OfferExpired, OfferGranted
from loyalty.core.models import OutboxEvent
from loyalty.core.reactions import ReactionRunner
from loyalty.members.service import ProfileService
from loyalty.offers.errors import OffersError
from loyalty.offers.service import OffersService
from loyalty.programme import Problem, ProgrammeFileError, parse_programme
from loyalty.segments.service import SegmentsService
from loyalty.storage.database import Database
from tests.loyalty.segments.programme import PROGRAMME, buy, days, install_text
from tests.loyalty.services import add_member

NOW = datetime.fromisoformat("2026-06-01T12:00:00+00:00")


async def _drain(db: Database, clock: FixedClock) -> None:
    runner = ReactionRunner(db, build_reactions(), clock)
    while await runner.run_once():
        pass


async def _offer_events(db: Database, member_id: int) -> list[tuple[str, str, str]]:
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent)
            .where(
                OutboxEvent.member_id == member_id,
                OutboxEvent.topic.in_([OfferGranted.name, OfferExpired.name]),
            )
            .order_by(OutboxEvent.id)
        )
        return [(r.topic, r.payload["offer_key"], r.payload["reason"]) for r in rows]


@pytest.mark.asyncio
async def test_entering_the_segment_grants_the_offer_and_leaving_withdraws_it(
    db: Database, clock: FixedClock
) -> None:
    clock.set(NOW - days(200))
    await install_text(db, clock)
    member = await add_member(db, clock, consents={"personalisation": True})
    for i in range(5):
        await buy(db, clock, member.id, NOW - days(10 * i + 1))
    clock.set(NOW)
    offers = OffersService(db, clock)
    segments = SegmentsService(db, clock)
    await segments.rebuild()
    await _drain(db, clock)
    keys = {v.offer.key for v in await offers.offers(member.id)}
    assert keys == {"voor-iedereen"}
    welkom = next(o for o in await _all_offers(db) if o == "welkom-terug")
    assert welkom

    clock.set(NOW + days(25))  # every 10 days, 26 days since: at risk
    await segments.rebuild()
    await _drain(db, clock)
    assert {v.offer.key for v in await offers.offers(member.id)} == {
        "voor-iedereen",
        "welkom-terug",
    }
    assert await _offer_events(db, member.id) == [
        ("offer.granted", "welkom-terug", "entered segment dreigen-te-gaan")
    ]

    await buy(db, clock, member.id, clock.now())  # back again: out of the segment
    await _drain(db, clock)
    assert {v.offer.key for v in await offers.offers(member.id)} == {"voor-iedereen"}
    assert (await _offer_events(db, member.id))[-1] == (
        "offer.expired",
        "welkom-terug",
        "left segment dreigen-te-gaan",
    )


@pytest.mark.asyncio
async def test_an_offer_by_segment_needs_the_personalisation_consent(
    db: Database, clock: FixedClock
) -> None:
    clock.set(NOW - days(200))
    await install_text(db, clock)
    member = await add_member(db, clock)  # never bought, joined long ago: lapsed
    clock.set(NOW)
    await SegmentsService(db, clock).rebuild()
    await _drain(db, clock)
    offers = OffersService(db, clock)
    assert {v.offer.key for v in await offers.offers(member.id)} == {"voor-iedereen"}
    assert await _offer_events(db, member.id) == []  # no consent: nothing granted
    welkom_id = await _offer_id(db, "welkom-terug")
    with pytest.raises(DomainError) as refused:
        await offers.activate(member.id, welkom_id)
    assert refused.value.code == OffersError.PERSONALISATION_REQUIRED
    await ProfileService(db, clock).set_consent(member.id, "personalisation", True)
    assert {v.offer.key for v in await offers.offers(member.id)} == {
        "voor-iedereen",
        "welkom-terug",
    }
    assert (await offers.activate(member.id, welkom_id)).state == "activated"


async def _all_offers(db: Database) -> list[str]:
    from loyalty.offers.models import Offer

    async with db.unit_of_work(write=False) as uow:
        return list(await uow.session.scalars(select(Offer.key)))


async def _offer_id(db: Database, key: str) -> int:
    from loyalty.offers.models import Offer

    async with db.unit_of_work(write=False) as uow:
        found = await uow.session.scalar(select(Offer.id).where(Offer.key == key))
    assert found is not None
    return found


def _problems(text: str) -> list[Problem]:
    with pytest.raises(ProgrammeFileError) as caught:
        parse_programme(text, "p.yaml")
    return caught.value.problems


def test_the_programme_file_with_segments_loads() -> None:
    file = parse_programme(PROGRAMME)
    assert [s.key for s in file.segments][:2] == ["vaste-klanten", "dreigen-te-gaan"]
    assert file.offers[0].eligibility.segments == ["dreigen-te-gaan"]
    assert file.offers[0].eligibility.personalised


def test_an_offer_naming_an_unknown_segment_fails_at_its_line() -> None:
    text = PROGRAMME.replace("segments: [dreigen-te-gaan]", "segments: [slapers]")
    line = text.splitlines().index("    eligibility: {segments: [slapers]}") + 1
    assert _problems(text) == [
        Problem(
            "offers[0].eligibility.segments",
            line,
            29,
            "offer welkom-terug names unknown segment(s): slapers",
        )
    ]


def test_a_segment_naming_an_unknown_tier_or_store_fails_at_its_rules() -> None:
    text = PROGRAMME.replace("tiers: [goud]", "tiers: [platina]").replace(
        "near_store: centrum", "near_store: utrecht"
    )
    found = {(p.path, p.message) for p in _problems(text)}
    assert found == {
        ("segments[2].rules", "segment koffie-in-amsterdam names unknown store(s): utrecht"),
        ("segments[4].rules", "segment push-of-goud names unknown tier(s): platina"),
    }
    assert all(p.line > 0 for p in _problems(text))


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("{}", "a condition is exactly one of"),
        ("{tiers: [goud], consent: push}", "a condition is exactly one of"),
        ("{rfm: {frequency: [6]}}", "must be at most 5"),
        ("{churn_risk: {at_least: 0.8, at_most: 0.2}}", "at_least must not exceed at_most"),
        ("{did: {event: purchase, at_least: 0, within_days: 30}}", "at least 1"),
        ("{location: {near_store: centrum}}", "`near_store` and `radius_m` go together"),
        ("{any_of: []}", "`any_of` needs at least one entry"),
    ],
)
def test_bad_rules_are_refused_with_a_message_for_people(rules: str, message: str) -> None:
    text = PROGRAMME.replace("rules: {rfm: {frequency: [5]}}", f"rules: {rules}")
    problems = _problems(text)
    assert any(message in p.message for p in problems), problems
    assert all(p.path.startswith("segments[0]") for p in problems)
