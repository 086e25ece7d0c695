"""Applying a programme file to an installation, reading it back, and the demo data."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from loyalty.auth.models import ApiKey
from loyalty.auth.service import AuthService
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.demo.data import (
    DEMO_MEMBERS,
    DEMO_PASSWORD,
    DEMO_TILL_KEY,
    demo_member,
    load_demo,
)
from loyalty.members.models import Member, MemberConsent
from loyalty.programme import ProgrammeFile, parse_programme
from loyalty.programme.errors import ProgrammeError
from loyalty.programme.models import Programme
from loyalty.programme.store import (
    DEFAULT_SETTINGS,
    ProgrammeSettings,
    apply_programme,
    current_programme,
    current_settings,
)
from loyalty.storage.database import Database
from tests.loyalty.services import cheap_hasher


def programme_file(
    key: str = "koffie",
    name: str = "Koffie",
    point_value: str = "0.01",
    timezone: str = "Europe/Amsterdam",
    country: str = "NL",
    currency: str = "EUR",
) -> ProgrammeFile:
    return parse_programme(
        "programme:\n"
        f"  key: {key}\n"
        f"  name: {name}\n"
        f"  currency: {currency}\n"
        f"  point_value: '{point_value}'\n"
        f"  timezone: {timezone}\n"
        f"  country: {country}\n"
        "  locales: [nl-NL, en-GB]\n"
    )


async def apply(db: Database, file: ProgrammeFile, clock: FixedClock) -> tuple[Programme, bool]:
    async with db.unit_of_work() as uow:
        result = await apply_programme(uow.session, file, clock.now())
        await uow.commit()
    return result


async def settings(db: Database) -> ProgrammeSettings:
    async with db.unit_of_work(write=False) as uow:
        return await current_settings(uow.session)


async def count(db: Database, model: type) -> int:
    async with db.unit_of_work(write=False) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


# --- the programme ------------------------------------------------------------------------


async def test_default_settings_before_any_programme(db: Database) -> None:
    assert await settings(db) == DEFAULT_SETTINGS
    assert DEFAULT_SETTINGS.country == "NL" and DEFAULT_SETTINGS.timezone == "UTC"
    assert DEFAULT_SETTINGS.point_value == Decimal("0.01")
    async with db.unit_of_work(write=False) as uow:
        assert await current_programme(uow.session) is None


async def test_apply_creates_then_updates(db: Database, clock: FixedClock) -> None:
    created_at = clock.now()
    row, created = await apply(db, programme_file(), clock)
    assert created
    assert await settings(db) == ProgrammeSettings(
        "koffie", "Koffie", "EUR", Decimal("0.01"), "Europe/Amsterdam", "NL"
    )
    assert (await settings(db)).zone.key == "Europe/Amsterdam"

    clock.advance(timedelta(days=1))
    file = programme_file(
        name="Koffie & Co",
        point_value="0.005",
        timezone="America/Curacao",
        country="CW",
        currency="ANG",
    )
    updated, created = await apply(db, file, clock)
    assert not created
    assert updated.id == row.id
    assert await count(db, Programme) == 1
    assert await settings(db) == ProgrammeSettings(
        "koffie", "Koffie & Co", "ANG", Decimal("0.005"), "America/Curacao", "CW"
    )
    async with db.unit_of_work(write=False) as uow:
        stored = await current_programme(uow.session)
    assert stored is not None
    assert stored.created_at == created_at
    assert stored.updated_at == clock.now()
    assert stored.spec == file.model_dump(mode="json")
    assert ProgrammeFile.model_validate(stored.spec) == file  # the stored spec reads back


async def test_point_value_keeps_its_precision(db: Database, clock: FixedClock) -> None:
    await apply(db, programme_file(point_value="0.123456"), clock)
    value = (await settings(db)).point_value
    assert isinstance(value, Decimal)
    assert value == Decimal("0.123456")


async def test_a_file_for_another_programme_is_refused(db: Database, clock: FixedClock) -> None:
    await apply(db, programme_file(key="koffie"), clock)
    with pytest.raises(DomainError) as caught:
        await apply(db, programme_file(key="thee", name="Thee"), clock)
    assert caught.value.code == "PROGRAMME_MISMATCH"
    assert caught.value.code is ProgrammeError.PROGRAMME_MISMATCH
    assert caught.value.field == "programme.key"
    assert "koffie" in caught.value.message and "thee" in caught.value.message
    current = await settings(db)
    assert (current.key, current.name) == ("koffie", "Koffie")
    assert await count(db, Programme) == 1


# --- demo data ----------------------------------------------------------------------------


async def test_load_demo_once(db: Database, clock: FixedClock) -> None:
    hasher = cheap_hasher()
    summary = await load_demo(db, clock, hasher)
    assert summary.loaded
    assert summary.member_email == DEMO_MEMBERS[0].email
    assert summary.member_password == DEMO_PASSWORD
    assert summary.till_key == DEMO_TILL_KEY

    current = await settings(db)
    assert (current.key, current.timezone, current.country) == ("demo", "Europe/Amsterdam", "NL")
    assert await count(db, Member) == len(DEMO_MEMBERS)
    assert await count(db, ApiKey) == 1

    anna = await demo_member(db, "anna@example.com")
    assert anna is not None
    assert (anna.first_name, anna.last_name, anna.preferred_channel) == ("Anna", "de Vries", "push")
    assert anna.interests == ["koffie", "gebak"]
    async with db.unit_of_work(write=False) as uow:
        consents = {
            c.channel: (c.granted, c.source)
            for c in await uow.session.scalars(
                select(MemberConsent).where(MemberConsent.member_id == anna.id)
            )
        }
    assert consents == {
        "email": (True, "demo"),
        "sms": (False, "demo"),
        "push": (True, "demo"),
        "in_app": (True, "demo"),
        "personalisation": (True, "demo"),
    }

    clock.advance(timedelta(hours=1))
    again = await load_demo(db, clock, hasher)
    assert not again.loaded
    assert again.till_key == DEMO_TILL_KEY
    assert await count(db, Member) == len(DEMO_MEMBERS)
    assert await count(db, ApiKey) == 1
    assert await count(db, Programme) == 1
    async with db.unit_of_work(write=False) as uow:
        programme = await current_programme(uow.session)
    assert programme is not None and programme.updated_at == clock.now() - timedelta(hours=1)


async def test_load_demo_leaves_an_installation_with_a_programme_alone(
    db: Database, clock: FixedClock
) -> None:
    await apply(db, programme_file(key="mine", name="Mine"), clock)
    summary = await load_demo(db, clock, cheap_hasher())
    assert not summary.loaded
    assert (await settings(db)).key == "mine"
    assert await count(db, Member) == 0
    assert await count(db, ApiKey) == 0


async def test_demo_members_sign_in_with_the_demo_password(
    db: Database, clock: FixedClock, auth: AuthService
) -> None:
    await load_demo(db, clock, cheap_hasher())
    for demo in DEMO_MEMBERS:
        issued = await auth.sign_in(demo.email, DEMO_PASSWORD)
        principal = await auth.authenticate_member(issued.access_token)
        member = await demo_member(db, demo.email)
        assert member is not None and principal.member_id == member.id
        assert member.locale == demo.locale and member.birth_date == demo.birth_date
    with pytest.raises(DomainError) as caught:
        await auth.sign_in(DEMO_MEMBERS[0].email, DEMO_PASSWORD + "x")
    assert caught.value.code == "INVALID_CREDENTIALS"


async def test_demo_till_key_authenticates_as_a_pos_integration(
    db: Database, clock: FixedClock, auth: AuthService
) -> None:
    await load_demo(db, clock, cheap_hasher())
    integration = await auth.authenticate_integration(DEMO_TILL_KEY)
    assert integration.name == "Demo till"
    assert integration.allows("pos") and not integration.allows("admin")
    with pytest.raises(DomainError) as caught:
        await auth.authenticate_integration(DEMO_TILL_KEY[:-1] + "X")
    assert caught.value.code == "INVALID_API_KEY"


async def test_demo_member_lookup_of_a_stranger(db: Database) -> None:
    assert await demo_member(db, "nobody@example.com") is None
