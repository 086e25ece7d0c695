"""Offers a member sees, and activating them: context, consent, limits, bad input."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.offers.context import AppContext, parse_context
from loyalty.offers.errors import OffersError
from loyalty.offers.models import MemberOffer, Offer, OfferVersion
from loyalty.offers.service import OffersService
from loyalty.storage.database import Database
from tests.loyalty.offers.programme import CENTRUM, FAR_AWAY, PROGRAMME, at, install_text
from tests.loyalty.services import add_member

pytestmark = pytest.mark.asyncio


async def _keys(service: OffersService, member_id: int, context: AppContext) -> set[str]:
    return {v.offer.key for v in await service.offers(member_id, context)}


async def _ids(db: Database) -> dict[str, int]:
    async with db.unit_of_work(write=False) as uow:
        return {o.key: o.id for o in await uow.session.scalars(select(Offer))}


async def test_near_and_far_from_a_store(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-06-04T14:00:00+02:00"))
    await install_text(db, clock)
    member = await add_member(db, clock)
    service = OffersService(db, clock)
    near = await _keys(service, member.id, parse_context(*CENTRUM))
    far = await _keys(service, member.id, parse_context(*FAR_AWAY))
    unknown = await _keys(service, member.id, AppContext())
    assert "om-de-hoek" in near
    assert "om-de-hoek" not in far and "om-de-hoek" not in unknown
    assert {"voor-iedereen", "gedeelde-code"} <= far


@pytest.mark.parametrize(
    ("local", "shown"),
    [
        ("2025-06-04T07:00:00+02:00", True),
        ("2025-06-04T09:59:00+02:00", True),
        ("2025-06-04T10:00:00+02:00", False),
        ("2025-06-04T06:59:00+02:00", False),
        # 30 March 2025: clocks go forward at 02:00 in Amsterdam. 07:30 local is 05:30 UTC.
        ("2025-03-30T05:30:00+00:00", True),
        ("2025-03-30T08:30:00+00:00", False),  # 10:30 local
        # 26 October 2025: clocks go back. 07:30 local is 06:30 UTC.
        ("2025-10-26T06:30:00+00:00", True),
        ("2025-10-26T05:30:00+00:00", False),  # 06:30 local
    ],
)
async def test_inside_and_outside_a_time_window(
    db: Database, clock: FixedClock, local: str, shown: bool
) -> None:
    clock.set(at("2025-01-01T12:00:00+01:00"))
    await install_text(db, clock)
    member = await add_member(db, clock)
    clock.set(at(local))
    keys = await _keys(OffersService(db, clock), member.id, AppContext())
    assert ("ontbijt" in keys) is shown


async def test_window_past_midnight_counts_for_the_day_it_started(
    db: Database, clock: FixedClock
) -> None:
    late = PROGRAMME + (
        "  - key: nachtuil\n    title: Nachtuil\n    kind: bonus_points\n    points: 5\n"
        '    context: {from_time: "22:00", until_time: "02:00", days: [fri]}\n'
    )
    clock.set(at("2025-06-06T12:00:00+02:00"))  # a Friday
    await install_text(db, clock, late)
    member = await add_member(db, clock)
    service = OffersService(db, clock)
    for local, shown in [
        ("2025-06-06T23:00:00+02:00", True),  # Friday night
        ("2025-06-07T01:30:00+02:00", True),  # still Friday's window
        ("2025-06-07T02:00:00+02:00", False),
        ("2025-06-07T23:00:00+02:00", False),  # Saturday night
        ("2025-06-06T01:00:00+02:00", False),  # Thursday's window
    ]:
        clock.set(at(local))
        assert ("nachtuil" in await _keys(service, member.id, AppContext())) is shown, local


async def test_personalised_offers_need_consent(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-06-04T14:00:00+02:00"))
    await install_text(db, clock)
    profile: dict[str, object] = {"interests": ["koffie"]}
    without = await add_member(db, clock, "a@example.com", profile=profile)
    consenting = await add_member(
        db, clock, "b@example.com", profile=profile, consents={"personalisation": True}
    )
    service = OffersService(db, clock)
    assert "koffieliefhebber" not in await _keys(service, without.id, AppContext())
    assert "koffieliefhebber" in await _keys(service, consenting.id, AppContext())
    ids = await _ids(db)
    with pytest.raises(DomainError) as refused:
        await service.activate(without.id, ids["koffieliefhebber"])
    assert refused.value.code == OffersError.PERSONALISATION_REQUIRED
    view = await service.activate(consenting.id, ids["koffieliefhebber"])
    assert view.state == "activated"


async def test_activation_states_codes_and_refusals(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-06-04T14:00:00+02:00"))
    await install_text(db, clock)
    member = await add_member(db, clock)
    service = OffersService(db, clock)
    ids = await _ids(db)
    shared = await service.activate(member.id, ids["gedeelde-code"])
    assert (shared.state, shared.coupon_code) == ("activated", "KOFFIE2")
    own = await service.activate(member.id, ids["schaars"])
    assert own.coupon_code and len(own.coupon_code) == 14
    states = {v.offer.key: v.state for v in await service.offers(member.id)}
    assert states["gedeelde-code"] == "activated" and states["voor-iedereen"] == "available"
    for offer_id, code, context in [
        (ids["gedeelde-code"], OffersError.ALREADY_ACTIVATED, AppContext()),
        (ids["om-de-hoek"], OffersError.NOT_IN_CONTEXT, parse_context(*FAR_AWAY)),
        (10**12, OffersError.OFFER_NOT_FOUND, AppContext()),
    ]:
        with pytest.raises(DomainError) as refused:
            await service.activate(member.id, offer_id, context)
        assert refused.value.code == code
    # Paused, expired, archived.
    edited = PROGRAMME.replace("    activation: auto\n", "    activation: auto\n    paused: true\n")
    edited = edited.replace(
        '    amount: "2.00"\n', '    amount: "2.00"\n    valid_until: "2025-06-01T00:00:00"\n'
    )
    edited = edited.replace("  - key: ontbijt\n", "  - key: ontbijt-weg\n")
    await install_text(db, clock, edited)
    for key, code in [
        ("voor-iedereen", OffersError.OFFER_PAUSED),
        ("ontbijt", OffersError.OFFER_NOT_FOUND),
    ]:
        with pytest.raises(DomainError) as refused:
            await service.activate(member.id, ids[key])
        assert refused.value.code == code
    other = await add_member(db, clock, "other@example.com")
    with pytest.raises(DomainError) as refused:
        await service.activate(other.id, ids["gedeelde-code"])
    assert refused.value.code == OffersError.OFFER_EXPIRED
    async with db.unit_of_work(write=False) as uow:
        versions = await uow.session.scalar(select(func.count()).select_from(OfferVersion))
    assert versions == 6 + 2 + 1 + 1  # six new, two changed, one archived, one added


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((91.0, 4.0), OffersError.INVALID_LATITUDE),
        ((52.0, 181.0), OffersError.INVALID_LONGITUDE),
        ((52.0, None), OffersError.INCOMPLETE_LOCATION),
        ((None, None, "drizzle"), OffersError.UNKNOWN_WEATHER),
        ((None, None, None, 99.0), OffersError.INVALID_TEMPERATURE),
        ((float("nan"), 4.0), OffersError.INVALID_LATITUDE),
    ],
)
async def test_bad_context_is_refused(args: tuple[object, ...], code: OffersError) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_context(*args)  # type: ignore[arg-type]
    assert code in [p.code for p in refused.value.problems]


async def test_global_limit_holds_under_concurrency(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-06-04T14:00:00+02:00"))
    await install_text(db, clock)
    members = [await add_member(db, clock, f"m{i}@example.com") for i in range(50)]
    service = OffersService(db, clock)
    offer_id = (await _ids(db))["schaars"]

    async def attempt(member_id: int) -> OffersError | None:
        try:
            await service.activate(member_id, offer_id)
        except DomainError as exc:
            assert isinstance(exc.code, OffersError)
            return exc.code
        return None

    results = await asyncio.gather(*(attempt(m.id) for m in members))
    assert results.count(None) == 10
    assert set(results) == {None, OffersError.OFFER_LIMIT_REACHED}
    async with db.unit_of_work(write=False) as uow:
        offer = await uow.session.get(Offer, offer_id)
        taken = await uow.session.scalar(select(func.count()).select_from(MemberOffer))
    assert offer is not None and offer.activated_count == 10 and taken == 10


async def test_per_member_activation_holds_under_retries(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-06-04T14:00:00+02:00"))
    await install_text(db, clock)
    member = await add_member(db, clock)
    service = OffersService(db, clock)
    offer_id = (await _ids(db))["schaars"]
    results = await asyncio.gather(
        *(service.activate(member.id, offer_id) for _ in range(8)), return_exceptions=True
    )
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert all(
        r.code == OffersError.ALREADY_ACTIVATED for r in results if isinstance(r, DomainError)
    )
    async with db.unit_of_work(write=False) as uow:
        offer = await uow.session.get(Offer, offer_id)
    assert offer is not None and offer.activated_count == 1


async def test_everything_listed_activates(db: Database, clock: FixedClock) -> None:
    clock.set(at("2025-06-04T08:00:00+02:00"))
    await install_text(db, clock, PROGRAMME.replace("global_limit: 10", "global_limit: 1000"))
    service = OffersService(db, clock)
    context = parse_context(*CENTRUM, "sunny", 21.0)
    for i in range(25):
        member = await add_member(
            db,
            clock,
            f"gen{i}@example.com",
            profile={"interests": ["koffie"] if i % 2 else ["thee"]},
            consents={"personalisation": i % 3 != 0},
        )
        listed = await service.offers(member.id, context)
        assert listed
        for view in listed:
            assert view.state == "available"
            activated = await service.activate(member.id, view.offer.id, context)
            assert activated.state == "activated"
