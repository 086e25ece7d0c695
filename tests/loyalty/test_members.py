"""Members: joining, the cleaned profile, consents, and finding a member by card or number."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from loyalty.auth.service import AuthService, SignUpInput
from loyalty.core.clock import FixedClock
from loyalty.core.errors import CoreError, DomainError, ValidationFailed
from loyalty.core.identifiers import format_member_number, is_valid_member_number
from loyalty.members import profile
from loyalty.members import service as members
from loyalty.members.contact import normalise_email, normalise_phone
from loyalty.members.errors import MembersError
from loyalty.members.models import Member, MemberConsent
from loyalty.members.service import UNSET, ProfileInput, ProfileService, clean_profile
from loyalty.members.signals import NO_SIGNALS
from loyalty.programme import parse_programme
from loyalty.programme.store import apply_programme
from loyalty.storage.database import Database
from tests.loyalty.services import STRONG_PASSWORD, add_member

TODAY = date(2026, 5, 20)


def problems_of(data: ProfileInput, country: str = "NL") -> list[tuple[str, str | None]]:
    with pytest.raises(ValidationFailed) as caught:
        clean_profile(data, today=TODAY, country=country)
    return [(p.code, p.field) for p in caught.value.problems]


async def consents_of(db: Database, member_id: int) -> dict[str, MemberConsent]:
    async with db.unit_of_work(write=False) as uow:
        rows = await members.consents_for(uow.session, [member_id])
    return {row.channel: row for row in rows}


# --- create_member ------------------------------------------------------------------------


async def test_create_member_fills_number_barcode_and_every_consent(
    db: Database, clock: FixedClock
) -> None:
    member = await add_member(
        db,
        clock,
        "new@example.com",
        profile={"first_name": "Noor", "interests": ["koffie"]},
        consents={"email": True, "push": True, "sms": False},
    )
    assert is_valid_member_number(member.member_number) and len(member.member_number) == 10
    assert member.card_barcode.startswith("TRW")
    assert member.status == "active"
    assert member.joined_at == member.updated_at == clock.now()
    assert member.first_name == "Noor" and member.interests == ["koffie"]

    consents = await consents_of(db, member.id)
    assert (
        set(consents)
        == set(members.CONSENT_CHANNELS)
        == {
            "email",
            "sms",
            "push",
            "in_app",
            "personalisation",
        }
    )
    granted = {channel: row.granted for channel, row in consents.items()}
    assert granted == {
        "email": True,
        "sms": False,
        "push": True,
        "in_app": False,
        "personalisation": False,
    }
    assert all(
        row.source == "member" and row.updated_at == clock.now() for row in consents.values()
    )


async def test_members_get_distinct_numbers_and_barcodes(db: Database, clock: FixedClock) -> None:
    created = [await add_member(db, clock, f"m{i}@example.com") for i in range(20)]
    assert len({m.member_number for m in created}) == 20
    assert len({m.card_barcode for m in created}) == 20
    assert len({m.id for m in created}) == 20


async def test_members_without_email_can_coexist(db: Database, clock: FixedClock) -> None:
    a = await add_member(db, clock, None)
    b = await add_member(db, clock, None)
    assert a.id != b.id and a.email is None and b.email is None


async def test_duplicate_email_is_refused(db: Database, clock: FixedClock) -> None:
    await add_member(db, clock, "dup@example.com")
    with pytest.raises(DomainError) as caught:
        await add_member(db, clock, "dup@example.com")
    assert caught.value.code == "EMAIL_TAKEN"
    assert caught.value.field == "email"
    async with db.unit_of_work(write=False) as uow:
        count = await uow.session.scalar(select(func.count()).select_from(Member))
    assert count == 1


async def test_duplicate_email_differently_cased_is_refused(
    db: Database, clock: FixedClock
) -> None:
    await add_member(db, clock, normalise_email("Case@Example.com"))
    with pytest.raises(DomainError) as caught:
        await add_member(db, clock, normalise_email("  CASE@example.COM "))
    assert caught.value.code == "EMAIL_TAKEN"


async def test_losing_the_race_after_the_check_still_gives_email_taken(
    db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a concurrent sign-up commits between the check and the insert, the unique
    index refuses the row; that must come back as EMAIL_TAKEN too."""
    await add_member(db, clock, "late@example.com")

    async def not_seen(*_args: object) -> bool:
        return False

    monkeypatch.setattr(members, "email_in_use", not_seen)
    with pytest.raises(DomainError) as caught:
        await add_member(db, clock, "late@example.com")
    assert caught.value.code == "EMAIL_TAKEN"
    assert caught.value.field == "email"


async def test_sign_up_with_a_taken_email_differently_cased(auth: AuthService) -> None:
    await auth.sign_up(SignUpInput("Twice@Example.com", STRONG_PASSWORD))
    with pytest.raises(DomainError) as caught:
        await auth.sign_up(SignUpInput("twice@EXAMPLE.com", STRONG_PASSWORD))
    assert caught.value.code == "EMAIL_TAKEN"


async def test_concurrent_create_with_one_email_lets_exactly_one_in(
    db: Database, clock: FixedClock
) -> None:
    """Both may pass the "is it in use" check before either commits; the unique index and
    the error mapping must still give the loser EMAIL_TAKEN, not a crash."""

    async def attempt() -> Member:
        async with db.unit_of_work() as uow:
            taken = await members.email_in_use(uow.session, "race@example.com")
            await asyncio.sleep(0.05)  # let the other attempt get just as far
            if taken:
                raise DomainError("EMAIL_TAKEN", "seen before insert", "email")
            member = await members.create_member(
                uow.session,
                signals=NO_SIGNALS,
                now=clock.now(),
                email="race@example.com",
                password_hash=None,
                profile={},
                consents={},
            )
            await uow.commit()
        return member

    results = await asyncio.gather(*(attempt() for _ in range(4)), return_exceptions=True)
    winners = [r for r in results if isinstance(r, Member)]
    losers = [r for r in results if not isinstance(r, Member)]
    assert len(winners) == 1
    assert all(isinstance(r, DomainError) and r.code == "EMAIL_TAKEN" for r in losers), losers
    async with db.unit_of_work(write=False) as uow:
        count = await uow.session.scalar(select(func.count()).select_from(Member))
        consents = await uow.session.scalar(select(func.count()).select_from(MemberConsent))
    assert count == 1
    assert consents == len(members.CONSENT_CHANNELS)


async def test_concurrent_sign_ups_with_one_email(auth: AuthService, db: Database) -> None:
    results = await asyncio.gather(
        *(
            auth.sign_up(SignUpInput(e, STRONG_PASSWORD))
            for e in ["same@example.com"] * 2 + ["SAME@example.com"] * 2 + [" Same@Example.Com"]
        ),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) == 1
    assert all(isinstance(r, DomainError) and r.code == "EMAIL_TAKEN" for r in failed), failed
    async with db.unit_of_work(write=False) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Member)) == 1


# --- clean_profile ------------------------------------------------------------------------


def test_clean_profile_reports_every_problem_at_once() -> None:
    found = problems_of(
        ProfileInput(
            first_name="x" * 101,
            last_name="y" * 101,
            birth_date=TODAY + timedelta(days=1),
            phone="12",
            locale="Dutch",
            preferred_channel="pigeon",
            interests=["ok", "!!!"],
        )
    )
    assert found == [
        ("INVALID_NAME", "firstName"),
        ("INVALID_NAME", "lastName"),
        ("INVALID_BIRTH_DATE", "birthDate"),
        ("INVALID_PHONE", "phone"),
        ("INVALID_LOCALE", "locale"),
        ("INVALID_CHANNEL", "preferredChannel"),
        ("INVALID_INTEREST", "interests"),
    ]


def test_validation_failed_leads_with_the_first_problem() -> None:
    with pytest.raises(ValidationFailed) as caught:
        clean_profile(ProfileInput(locale="?", phone="1"), today=TODAY, country="NL")
    assert caught.value.code == "INVALID_PHONE"  # field order: phone before locale
    assert caught.value.field == "phone"
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(
    "birth_date",
    [TODAY + timedelta(days=1), date(2100, 1, 1), date(1899, 12, 31)],
)
def test_birth_dates_in_the_future_or_too_old_are_refused(birth_date: date) -> None:
    assert problems_of(ProfileInput(birth_date=birth_date)) == [("INVALID_BIRTH_DATE", "birthDate")]


@pytest.mark.parametrize("birth_date", [TODAY, date(1900, 1, 1), date(1990, 2, 28)])
def test_birth_dates_up_to_today_are_kept(birth_date: date) -> None:
    assert clean_profile(ProfileInput(birth_date=birth_date), today=TODAY, country="NL") == {
        "birth_date": birth_date
    }


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("06 12345678", "NL", "+31612345678"),
        ("0612345678", "NL", "+31612345678"),
        ("+31 6 1234 5678", "NL", "+31612345678"),
        ("0031612345678", "NL", "+31612345678"),
        ("0470 12 34 56", "BE", "+32470123456"),
        ("+32 470 12 34 56", "NL", "+32470123456"),
        ("01512 3456789", "DE", "+4915123456789"),
    ],
)
def test_phone_is_normalised_to_e164_with_the_programme_country(
    raw: str, country: str, e164: str
) -> None:
    assert clean_profile(ProfileInput(phone=raw), today=TODAY, country=country) == {"phone": e164}
    assert normalise_phone(raw, country) == e164


@pytest.mark.parametrize("raw", ["12", "not a number", "+31 6 1234", "06 1234567890123"])
def test_invalid_phones_are_refused(raw: str) -> None:
    assert problems_of(ProfileInput(phone=raw)) == [("INVALID_PHONE", "phone")]


def test_empty_phone_clears_it() -> None:
    assert clean_profile(ProfileInput(phone=""), today=TODAY, country="NL") == {"phone": None}
    assert clean_profile(ProfileInput(phone=None), today=TODAY, country="NL") == {"phone": None}


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("nl-NL", "nl-NL"),
        ("nl_NL", "nl-NL"),
        (" en ", "en"),
        ("zh-Hant-TW", "zh-Hant-TW"),
        ("es-419", "es-419"),
    ],
)
def test_locales_are_normalised(raw: str, clean: str) -> None:
    assert clean_profile(ProfileInput(locale=raw), today=TODAY, country="NL") == {"locale": clean}


@pytest.mark.parametrize("raw", ["Dutch", "NL-nl", "n", "nl-nl", "", "nl-NL-x"])
def test_bad_locales_are_refused(raw: str) -> None:
    assert problems_of(ProfileInput(locale=raw)) == [("INVALID_LOCALE", "locale")]


@pytest.mark.parametrize("channel", members.CONTACT_CHANNELS)
def test_contact_channels_are_accepted(channel: str) -> None:
    cleaned = clean_profile(ProfileInput(preferred_channel=channel), today=TODAY, country="NL")
    assert cleaned == {"preferred_channel": channel}


@pytest.mark.parametrize("channel", ["personalisation", "EMAIL", "fax", ""])
def test_other_channels_are_refused(channel: str) -> None:
    assert problems_of(ProfileInput(preferred_channel=channel)) == [
        ("INVALID_CHANNEL", "preferredChannel")
    ]


def test_interests_are_lower_cased_trimmed_and_deduplicated() -> None:
    cleaned = clean_profile(
        ProfileInput(interests=["Koffie", "koffie", "  Gebak  ", "KOFFIE", "thee  en   taart"]),
        today=TODAY,
        country="NL",
    )
    assert cleaned == {"interests": ["koffie", "gebak", "thee en taart"]}


@pytest.mark.parametrize("bad", ["", "   ", "-leading dash", "x" * 41, "emoji 🎉", "semi;colon"])
def test_bad_interests_are_refused(bad: str) -> None:
    assert problems_of(ProfileInput(interests=["ok", bad])) == [("INVALID_INTEREST", "interests")]


def test_at_most_thirty_distinct_interests() -> None:
    thirty = [f"interest {i}" for i in range(members.MAX_INTERESTS)]
    assert clean_profile(
        ProfileInput(interests=[*thirty, "INTEREST 0"]), today=TODAY, country="NL"
    ) == {"interests": thirty}
    assert problems_of(ProfileInput(interests=[*thirty, "one more"])) == [
        ("INVALID_INTEREST", "interests")
    ]


def test_names_are_trimmed_and_blank_names_clear() -> None:
    cleaned = clean_profile(
        ProfileInput(first_name="  Anne   Marie ", last_name="   "), today=TODAY, country="NL"
    )
    assert cleaned == {"first_name": "Anne Marie", "last_name": None}
    assert clean_profile(ProfileInput(first_name="x" * 100), today=TODAY, country="NL") == {
        "first_name": "x" * 100
    }


def test_unset_fields_are_left_out_and_none_clears() -> None:
    assert clean_profile(ProfileInput(), today=TODAY, country="NL") == {}
    assert clean_profile(
        ProfileInput(
            first_name=None,
            birth_date=None,
            locale=None,
            preferred_channel=None,
            interests=None,
            last_name=UNSET,
        ),
        today=TODAY,
        country="NL",
    ) == {
        "first_name": None,
        "birth_date": None,
        "locale": None,
        "preferred_channel": None,
        "interests": [],
    }


# --- ProfileService -----------------------------------------------------------------------


async def test_profile_update_changes_only_what_was_sent(
    db: Database, clock: FixedClock, profiles: ProfileService
) -> None:
    member = await add_member(
        db,
        clock,
        "p@example.com",
        profile={
            "first_name": "Piet",
            "last_name": "Bakker",
            "phone": "+31612345678",
            "interests": ["thee"],
            "locale": "nl-NL",
        },
    )
    clock.advance(timedelta(hours=1))
    updated = await profiles.update(
        member.id,
        ProfileInput(first_name="Pieter", phone=None, interests=["Fietsen", "fietsen"]),
    )
    assert updated.first_name == "Pieter"
    assert updated.last_name == "Bakker"  # unset: left alone
    assert updated.phone is None  # None: cleared
    assert updated.locale == "nl-NL"
    assert updated.interests == ["fietsen"]
    assert updated.updated_at == clock.now()
    assert updated.joined_at == clock.now() - timedelta(hours=1)

    async with db.unit_of_work(write=False) as uow:
        stored = await uow.session.get(Member, member.id)
    assert stored is not None
    assert (stored.first_name, stored.last_name, stored.phone, stored.interests) == (
        "Pieter",
        "Bakker",
        None,
        ["fietsen"],
    )
    assert stored.updated_at == clock.now()


async def test_profile_update_uses_programme_country_and_timezone(
    db: Database, clock: FixedClock, profiles: ProfileService
) -> None:
    file = parse_programme(
        "programme:\n  key: be\n  name: BE\n  currency: EUR\n  point_value: '0.01'\n"
        "  timezone: Pacific/Kiritimati\n  country: BE\n"
    )
    async with db.unit_of_work() as uow:
        await apply_programme(uow.session, file, clock.now())
        await uow.commit()
    member = await add_member(db, clock)
    updated = await profiles.update(member.id, ProfileInput(phone="0470 12 34 56"))
    assert updated.phone == "+32470123456"
    # "Today" is the programme's: in Kiritimati (UTC+14) it is already tomorrow for most of
    # the UTC day, so that date is a valid birth date there.
    local_today = clock.now().astimezone(file.programme.zone).date()
    updated = await profiles.update(member.id, ProfileInput(birth_date=local_today))
    assert updated.birth_date == local_today
    with pytest.raises(ValidationFailed) as caught:
        await profiles.update(member.id, ProfileInput(birth_date=local_today + timedelta(days=1)))
    assert caught.value.code == "INVALID_BIRTH_DATE"


async def test_invalid_profile_update_changes_nothing(
    db: Database, clock: FixedClock, profiles: ProfileService
) -> None:
    member = await add_member(db, clock, profile={"first_name": "Els"})
    clock.advance(timedelta(minutes=5))
    with pytest.raises(ValidationFailed) as caught:
        await profiles.update(member.id, ProfileInput(first_name="Elsje", locale="??"))
    assert [p.code for p in caught.value.problems] == ["INVALID_LOCALE"]
    async with db.unit_of_work(write=False) as uow:
        stored = await uow.session.get(Member, member.id)
    assert stored is not None
    assert stored.first_name == "Els"
    assert stored.updated_at == clock.now() - timedelta(minutes=5)


async def test_profile_update_of_unknown_member(profiles: ProfileService) -> None:
    with pytest.raises(DomainError) as caught:
        await profiles.update(424242, ProfileInput(first_name="X"))
    assert caught.value.code == "NOT_FOUND"
    assert caught.value.code is CoreError.NOT_FOUND


async def test_set_consent_moves_updated_at_only_when_the_answer_changes(
    db: Database, clock: FixedClock, profiles: ProfileService
) -> None:
    member = await add_member(db, clock, consents={"sms": False})
    joined = clock.now()

    clock.advance(timedelta(hours=1))
    same = await profiles.set_consent(member.id, "sms", False)
    assert same.granted is False and same.updated_at == joined

    clock.advance(timedelta(hours=1))
    changed = await profiles.set_consent(member.id, "sms", True)
    assert changed.granted is True and changed.updated_at == clock.now()
    granted_at = clock.now()

    clock.advance(timedelta(hours=1))
    again = await profiles.set_consent(member.id, "sms", True)
    assert again.updated_at == granted_at

    stored = await consents_of(db, member.id)
    assert stored["sms"].granted is True
    assert stored["sms"].updated_at == granted_at
    # The other channels are untouched.
    assert stored["email"].granted is False and stored["email"].updated_at == joined


async def test_set_consent_refuses_unknown_channels(
    db: Database, clock: FixedClock, profiles: ProfileService
) -> None:
    member = await add_member(db, clock)
    for channel in ["fax", "EMAIL", "", "preferred"]:
        with pytest.raises(DomainError) as caught:
            await profiles.set_consent(member.id, channel, True)
        assert caught.value.code == "INVALID_CHANNEL"
        assert caught.value.field == "channel"
    assert len(await consents_of(db, member.id)) == len(members.CONSENT_CHANNELS)


async def test_set_consent_creates_a_missing_row(db: Database, clock: FixedClock) -> None:
    member = await add_member(db, clock)
    async with db.unit_of_work() as uow:
        row = await uow.session.get(MemberConsent, (member.id, "push"))
        assert row is not None
        await uow.session.delete(row)
        await uow.commit()
    async with db.unit_of_work() as uow:
        created = await members.set_consent(
            uow.session, member.id, "push", False, clock.now(), source="till"
        )
        await uow.commit()
    assert created.granted is False and created.source == "till"
    assert (await consents_of(db, member.id))["push"].granted is False


# --- lookups ------------------------------------------------------------------------------


async def test_member_by_card_and_by_number(db: Database, clock: FixedClock) -> None:
    anna = await add_member(db, clock, "anna@example.com")
    bram = await add_member(db, clock, "bram@example.com")
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        by_card = await members.member_by_card(s, anna.card_barcode)
        by_card_padded = await members.member_by_card(s, f"  {bram.card_barcode}\n")
        by_number = await members.member_by_number(s, anna.member_number)
        by_formatted = await members.member_by_number(s, format_member_number(bram.member_number))
        by_email = await members.member_by_email(s, "bram@example.com")
        unknown_card = await members.member_by_card(s, "TRWNOTACARD")
        unknown_number = await members.member_by_number(s, "0000000000")
        lower_card = await members.member_by_card(s, anna.card_barcode.lower())
        number_as_card = await members.member_by_card(s, anna.member_number)
        listed = await members.members_by_ids(s, [anna.id, bram.id, 999999])
    assert by_card is not None and by_card.id == anna.id
    assert by_card_padded is not None and by_card_padded.id == bram.id
    assert by_number is not None and by_number.id == anna.id
    assert by_formatted is not None and by_formatted.id == bram.id
    assert by_email is not None and by_email.id == bram.id
    assert unknown_card is None and unknown_number is None
    assert lower_card is None  # barcodes are exact
    assert number_as_card is None  # the member number is not the card
    assert sorted(m.id for m in listed) == sorted([anna.id, bram.id])


async def test_a_member_number_already_in_use_is_not_handed_out_again(
    db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nine random digits collide now and then once there are many members; joining must
    then draw another number, not fail."""
    first = await add_member(db, clock, "first@example.com")
    numbers = iter([first.member_number, first.member_number, "1234567897"])
    monkeypatch.setattr(members, "new_member_number", lambda: next(numbers))
    second = await add_member(db, clock, "second@example.com")
    assert second.member_number == "1234567897"
    assert second.card_barcode != first.card_barcode


# --- error codes and modules ------------------------------------------------------------------


def test_members_codes_keep_their_wire_strings() -> None:
    assert all(code.value == code.name for code in MembersError)
    assert {code.value for code in MembersError} == {
        "EMAIL_TAKEN",
        "INVALID_EMAIL",
        "INVALID_PHONE",
        "INVALID_NAME",
        "INVALID_BIRTH_DATE",
        "INVALID_LOCALE",
        "INVALID_CHANNEL",
        "INVALID_INTEREST",
        "INVALID_TIME_ZONE",
    }


def test_profile_problems_carry_the_areas_enum() -> None:
    with pytest.raises(ValidationFailed) as caught:
        clean_profile(
            ProfileInput(first_name="x" * 101, phone="12", interests=["!!!"]),
            today=TODAY,
            country="NL",
        )
    assert [p.code for p in caught.value.problems] == [
        MembersError.INVALID_NAME,
        MembersError.INVALID_PHONE,
        MembersError.INVALID_INTEREST,
    ]
    assert all(isinstance(p.code, MembersError) for p in caught.value.problems)


def test_the_profile_names_are_still_reachable_from_the_service() -> None:
    for name in ("ProfileInput", "UNSET", "Unset", "clean_profile", "profile_complete"):
        assert getattr(members, name) is getattr(profile, name)
    assert members.CONTACT_CHANNELS == ("email", "sms", "push", "in_app")
    assert members.MAX_INTERESTS == 30
