"""`trouw members import`'s domain part: a file imported twice gives its members, their opening
balances and tier floors once; bad rows are refused with their line numbers and reasons; every
imported member went through the sign-up's referral checks. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from loyalty.core.clock import FixedClock
from loyalty.demo.data import DEMO_PROGRAMME
from loyalty.imports.members import import_members
from loyalty.imports.rows import Record, read_records
from loyalty.members import service as members
from loyalty.members.models import Member, MemberConsent
from loyalty.points.balances import balances
from loyalty.points.models import LedgerEntry, MemberEvent
from loyalty.programme.install import install_programme
from loyalty.programme.loader import load_programme
from loyalty.programme.store import current_file
from loyalty.referrals.models import ReferralCode, ReferralFingerprint
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers
from tests.loyalty.services import add_member
from tests.support.import_files import expected_points, write_csv, write_jsonl

# The 10,000 rows, on both databases (TROUW_TEST_IMPORT_ROWS makes it fewer or more).
ROWS = int(os.environ.get("TROUW_TEST_IMPORT_ROWS", "10000"))


@pytest.fixture
async def programme(db: Database, clock: FixedClock) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, load_programme(DEMO_PROGRAMME), clock.now())
        await uow.commit()


def today(clock: FixedClock) -> date:
    return clock.now().date()


async def test_a_file_imported_twice_gives_its_members_and_balances_once(
    db: Database, clock: FixedClock, programme: None, tmp_path: Path
) -> None:
    count = ROWS
    path = write_csv(tmp_path / "members.csv", count, today(clock))
    seen: list[int] = []
    first = await import_members(db, clock, read_records(path, "csv"), progress=seen.append)
    assert (first.rows, first.created, first.existing, first.rejected) == (count, count, 0, [])
    assert sum(seen) == count
    clock.advance(timedelta(hours=1))
    again = await import_members(db, clock, read_records(path, "csv"))
    assert (again.created, again.existing, again.rejected) == (0, count, [])

    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        assert await s.scalar(select(func.count()).select_from(Member)) == count
        opening = select(func.count(), func.sum(LedgerEntry.points)).where(
            LedgerEntry.source_type == "import"
        )
        lots = sum(2 if i % 5 == 0 else 1 for i in range(count))
        total = sum(expected_points(i) for i in range(count))
        assert tuple((await s.execute(opening)).one()) == (lots, total)
        # Imported members signed up elsewhere: no sign-up reward, only their own points.
        assert await s.scalar(select(func.sum(LedgerEntry.points))) == total
        ids = await members.member_ids_by_email(
            s, [f"member{i}@import.example" for i in (1, *range(0, count, 97))]
        )
        found = await balances(s, list(ids.values()), clock.now())  # one query for all
        file = await current_file(s)
        for i in range(0, count, 97):
            member_id = ids[f"member{i}@import.example"]
            assert found[member_id].available == expected_points(i), i
            level = await tiers.current_level(s, member_id, file, clock.now())
            assert level is not None and level.key == ("zilver" if i % 7 == 0 else "brons")
            member = await s.get(Member, member_id)
            assert member is not None and member.first_name == f"Voornaam{i}"
            assert member.joined_at < clock.now() - timedelta(days=99)
        consents = await members.consents_for(s, [ids["member1@import.example"]])
        granted = {c.channel for c in consents if c.granted}
        assert granted == {"email", "push"} and consents[0].source == members.IMPORTED


async def test_the_referral_checks_see_every_imported_member(
    db: Database, clock: FixedClock, programme: None, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "few.csv", 3, today(clock))
    await import_members(db, clock, read_records(path, "csv"))
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        ids = set(await s.scalars(select(Member.id)))
        assert set(await s.scalars(select(ReferralCode.member_id))) == ids
        printed = set(await s.scalars(select(ReferralFingerprint.member_id)))
        assert printed == ids  # their email at least
        activities = list(await s.scalars(select(MemberEvent.name)))
        assert sorted(activities) == ["member_imported"] * 3


BAD = [
    {"external_id": "ok-1", "email": "ok1@import.example", "points": 50},
    {"external_id": "bad-email", "email": "not an address"},
    {"external_id": "bad-tier", "email": "t@import.example", "tier": "platina"},
    {
        "external_id": "expired",
        "email": "e@import.example",
        "points": 10,
        "points_expire_at": "2001-01-01",
    },
    {"external_id": "ok-1", "email": "again@import.example"},
    {"first_name": "Nobody"},
    {"external_id": "taken", "email": "app@example.com"},
    {"email": "later@import.example", "joined_at": "2999-01-01"},
    {"email": "ok2@import.example", "lots": [{"points": 5, "earned_at": "2020-01-01"}]},
]


async def test_bad_rows_are_listed_with_their_line_numbers_and_reasons(
    db: Database, clock: FixedClock, programme: None, tmp_path: Path
) -> None:
    await add_member(db, clock, "app@example.com")
    path = write_jsonl(tmp_path / "bad.jsonl", BAD)
    with path.open("a") as out:
        out.write("{not json\n\n")
        out.write('{"email": "x@import.example", "colour": "blue"}\n')
    report = await import_members(db, clock, read_records(path, "jsonl"), chunk_size=4)
    refused = {r.line: sorted({reason.code for reason in r.reasons}) for r in report.rejected}
    assert refused == {
        2: ["INVALID_EMAIL"],
        3: ["UNKNOWN_TIER"],
        4: ["EXPIRED_LOT"],
        5: ["DUPLICATE_ROW"],
        6: ["MISSING_KEY"],
        7: ["EMAIL_TAKEN"],
        8: ["INVALID_DATE"],
        10: ["UNREADABLE_ROW"],
        12: ["INVALID_VALUE"],
    }
    assert "line 5: DUPLICATE_ROW external_id: the same external_id as line 1" in {
        str(r) for r in report.rejected
    }
    assert report.created == 2
    # An old lot without an expiry expires as the programme's rule says: it is gone already.
    async with db.unit_of_work(write=False) as uow:
        ids = await members.member_ids_by_email(uow.session, ["ok2@import.example"])
        (found,) = (await balances(uow.session, list(ids.values()), clock.now())).values()
        assert found.available == 0
        consent = await uow.session.get(MemberConsent, (ids["ok2@import.example"], "email"))
        assert consent is not None and consent.granted is False


def count_statements(db: Database) -> Callable[[], int]:
    """How many statements the database has been sent since this was called."""
    sent = [0]

    def seen(*_: object) -> None:
        sent[0] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    return lambda: sent[0]


async def test_a_chunk_costs_the_same_statements_however_many_rows_it_has(
    db: Database, clock: FixedClock, programme: None, tmp_path: Path
) -> None:
    """Every member of a chunk goes through the same domain steps, written per table, not
    per row (the rate `bench/bench_import.py` measures depends on it)."""
    sent = []
    for count in (5, 200, 400):  # the first makes the fingerprint key, reads the programme…
        path = write_csv(tmp_path / f"{count}.csv", count, today(clock))
        lines = [r for r in read_records(path, "csv") if isinstance(r, Record)]
        for record in lines:  # other members each time
            record.values["email"] = f"run{count}-{record.values['email']}"
            if "external_id" in record.values:
                record.values["external_id"] += f"-run{count}"
        statements = count_statements(db)
        report = await import_members(db, clock, lines, chunk_size=count)
        assert (report.created, report.rejected) == (count, [])
        sent.append(statements())
    assert sent[1] == sent[2], sent
