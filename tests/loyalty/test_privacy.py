"""Personal data at rest, exports and erasure, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from loyalty.areas import metadata, register_personal_data
from loyalty.auth.service import AuthService, SignUpInput
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.core.events import EVENT_TYPES
from loyalty.core.personal import Keyring
from loyalty.core.personal_data import PersonalDataRegistry
from loyalty.members.models import PERSONAL_FIELDS, Member
from loyalty.members.profile import ProfileInput
from loyalty.messaging.devices import DeviceService
from loyalty.points.purchases import PurchaseInput
from loyalty.points.refs import MemberRef
from loyalty.points.service import PointsService
from loyalty.privacy.service import PrivacyService
from loyalty.reports.liability import liability
from loyalty.storage.database import Database
from tests.loyalty.services import STRONG_PASSWORD
from tests.loyalty.test_purchases_and_returns import WEDNESDAY, install, line, programme

EMAIL = "zwaantje.vermeulen@example.com"
PERSONAL = {
    "first_name": "Zwaantje",
    "last_name": "Vermeulenhof",
    "phone": "+31687654321",
    "birth_date": date(1987, 6, 23),
}
PLAIN_VALUES = [EMAIL, "Zwaantje", "Vermeulenhof", "31687654321", "1987-06-23"]
PUSH_TOKEN = "apns-device-token-0123456789abcdef"


def test_every_table_with_a_member_is_covered_by_a_holding() -> None:
    registry = register_personal_data(PersonalDataRegistry())
    covered = registry.covered_tables()
    holding_member = {t.name for t in metadata().sorted_tables if "member_id" in t.columns}
    missing = sorted((holding_member | {"members"}) - covered)
    assert missing == [], (
        f"tables with member data that no personal_data.register covers: {missing}"
    )
    assert covered <= {t.name for t in metadata().sorted_tables}


def test_event_payloads_carry_no_personal_fields() -> None:
    """Outbox payloads (and the webhook bodies made from them) hold no personal data, so they
    need not be sealed: no event declares a personal field."""
    forbidden = {*PERSONAL_FIELDS, "name", "address", "answer", "text", "token", "push_token"}
    for event_type in EVENT_TYPES:
        names = {f.name for f in dataclasses.fields(event_type)}
        assert not names & forbidden, f"{event_type.name} carries {names & forbidden}"


async def _join(auth: AuthService, points: PointsService, devices: DeviceService) -> int:
    profile = ProfileInput(**PERSONAL)  # type: ignore[arg-type]
    member, _ = await auth.sign_up(
        SignUpInput(EMAIL, STRONG_PASSWORD, profile, {"email": True}), user_agent="ZwaanApp/1.0"
    )
    await points.record_purchase(
        PurchaseInput(MemberRef(member_id=member.id), "bon-1", [line("koffie", "30.00")])
    )
    await devices.register(member.id, "ios", PUSH_TOKEN)
    return member.id


async def _figures(db: Database, clock: FixedClock) -> dict[str, Any]:
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        owed = await liability(s, clock.now())
        return {
            "liability": (owed.outstanding, owed.value),
            "ledger": await s.scalar(text("SELECT SUM(points) FROM ledger_entries")),
            "purchases": await s.scalar(text("SELECT SUM(total) FROM purchases")),
            "members": await s.scalar(select(func.count()).select_from(Member)),
        }


def _file_bytes(path: Path) -> bytes:
    """A file's bytes, read by another process: closing a descriptor of a SQLite file in this
    process would drop every POSIX lock this process's connections hold on it, and another
    process (a worker of a later test) could then rebuild the WAL index under them."""
    reader = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
    return subprocess.run(
        [sys.executable, "-c", reader, str(path)], capture_output=True, check=True
    ).stdout


async def _raw_dump(db: Database) -> bytes:
    """Every table's rows as the database holds them (the file itself for SQLite)."""
    if db.is_sqlite:
        path = Path(str(db.url.database))
        return b"".join(_file_bytes(p) for p in (path, Path(f"{path}-wal")) if p.exists())
    out = []
    async with db.engine.connect() as conn:
        for table in metadata().sorted_tables:
            rows = await conn.execute(text(f"SELECT t::text FROM {table.name} t"))
            out += [str(r[0]) for r in rows]
    return "\n".join(out).encode()


@pytest.fixture
def privacy(db: Database, clock: FixedClock) -> PrivacyService:
    return PrivacyService(db, clock)


async def test_personal_data_is_not_in_the_database_in_clear(
    db: Database, clock: FixedClock, auth: AuthService
) -> None:
    clock.set(WEDNESDAY)
    await install(db, clock, programme())
    await _join(auth, PointsService(db, clock), DeviceService(db, clock))
    dump = (await _raw_dump(db)).lower()
    for value in PLAIN_VALUES:
        at = dump.find(value.lower().encode())
        assert at < 0, (value, repr(dump[max(0, at - 120) : at + 60])[-400:])
    # Yet the member reads back whole, and is found by email through the blind index.
    signed_in = await auth.sign_in(EMAIL, STRONG_PASSWORD)
    async with db.unit_of_work(write=False) as uow:
        member = await uow.session.get(Member, signed_in.member_id)
        assert member is not None
        assert (member.email, member.first_name, member.birth_date) == (
            EMAIL, "Zwaantje", date(1987, 6, 23),
        )  # fmt: skip


async def test_export_then_erase_after_the_grace_period_leaves_nothing_and_the_books_alone(
    db: Database, clock: FixedClock, auth: AuthService, privacy: PrivacyService
) -> None:
    clock.set(WEDNESDAY)
    await install(db, clock, programme())
    member_id = await _join(auth, PointsService(db, clock), DeviceService(db, clock))

    _export, token = await privacy.export(member_id, "member")
    document = await privacy.download(token)
    assert document is not None and document["memberId"] == member_id
    sections = document["sections"]
    assert sections["profile"]["email"] == EMAIL
    assert sections["profile"]["birth_date"] == "1987-06-23"
    assert sections["purchases"][0]["total"] == "30.00"
    assert sections["ledger"]["entries"] and sections["devices"][0]["token"] == PUSH_TOKEN
    assert {c["channel"] for c in sections["consents"]} >= {"email", "push"}
    assert sections["sessions"][0]["user_agent"] == "ZwaanApp/1.0"
    assert set(sections) == {h.section for h in privacy.registry.holdings}

    before = await _figures(db, clock)
    with pytest.raises(DomainError) as wrong:
        await privacy.request_erasure_by_member(member_id, confirm=True, password="nope")
    assert wrong.value.code.value == "WRONG_PASSWORD"
    first = await privacy.request_erasure(member_id, "member")
    await privacy.cancel_erasure(member_id, first.id)
    scheduled = await privacy.request_erasure(member_id, "member")
    assert scheduled.scheduled_for == clock.now() + timedelta(days=30)
    assert await privacy.erase_due() == 0  # still in the grace period
    clock.advance(timedelta(days=30))
    assert await privacy.erase_due() == 1

    assert await _figures(db, clock) == before
    report = await privacy.verify(member_id)
    assert report.clean, report.findings
    dump = (await _raw_dump(db)).lower()
    for value in [*PLAIN_VALUES, PUSH_TOKEN.lower()]:
        assert value.lower().encode() not in dump, value
    assert await privacy.download(token) is None
    with pytest.raises(DomainError):
        await auth.sign_in(EMAIL, STRONG_PASSWORD)
    async with db.unit_of_work(write=False) as uow:
        for table in ("devices", "auth_sessions", "data_exports"):
            count = await uow.session.scalar(
                text(f"SELECT COUNT(*) FROM {table} WHERE member_id = :m"),
                {"m": member_id},
            )
            assert count == 0, table


async def test_the_verifier_finds_a_copy_left_behind(
    db: Database, clock: FixedClock, auth: AuthService, privacy: PrivacyService
) -> None:
    clock.set(WEDNESDAY)
    await install(db, clock, programme())
    member_id = await _join(auth, PointsService(db, clock), DeviceService(db, clock))
    await privacy.request_erasure(member_id, "admin:test", timedelta(0))
    async with db.unit_of_work() as uow:  # a careless area copies the name somewhere
        await uow.session.execute(
            text("UPDATE purchases SET store = :s WHERE member_id = :m"),
            {"s": "Balie van Zwaantje", "m": member_id},
        )
        await uow.commit()
    report = await privacy.verify(member_id)
    assert not report.clean
    assert [(f.table, f.column) for f in report.findings] == [("purchases", "store")]


async def test_a_new_master_key_rewraps_member_keys(
    db: Database, clock: FixedClock, auth: AuthService, privacy: PrivacyService
) -> None:
    clock.set(WEDNESDAY)
    await install(db, clock, programme())
    member_id = await _join(auth, PointsService(db, clock), DeviceService(db, clock))
    old: Keyring = db.info["keyring"]
    rotated = old.with_new_master_key()
    db.info["keyring"] = rotated
    try:
        assert await privacy.rewrap_keys() == 1
        db.info["keyring"] = Keyring(
            {rotated.current: rotated.master_keys[rotated.current]}, rotated.current, old.index_key
        )
        async with db.unit_of_work(write=False) as uow:
            member = await uow.session.get(Member, member_id)
            assert member is not None and member.data_key_id == rotated.current
            assert member.last_name == "Vermeulenhof"
    finally:
        db.info["keyring"] = old


def test_development_keyring_is_kept_next_to_the_database(tmp_path: Path) -> None:
    path = tmp_path / "trouw.db.keys"
    first = Keyring.from_file(path)
    assert Keyring.from_file(path) == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert Decimal(len(first.index_key)) == 32
