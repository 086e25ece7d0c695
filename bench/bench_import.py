"""Member import: rows per second through `trouw members import`'s code against a hand-written
baseline in the same run, and what that makes 100,000 members take.

Trouw's import makes every member through `members.create_members` (a sealed profile with
its own data key, the blind index, consents, `member.signed_up` with the referral checks: a
referral code and fingerprints), records the `member_imported` activity, credits the opening
balance as lots (with its balance events) and sets the tier floor, a chunk of rows per
transaction in a few statements per table. The baseline inserts the same rows with plain
SQLAlchemy Core, a chunk at a time with executemany: members (sealed the same way), consents,
accounts, ledger entries and lots, tiers; no events, no checks, no referral codes. The ratio
is the price of going through the domain. A re-run of the same file (everything already
there) is timed too.

    .venv/bin/python bench/bench_import.py [--rows 2000] [--postgres] [--chunk 500]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from api.wiring import wire_database
from bench.common import postgres_database
from loyalty.core.clock import FixedClock
from loyalty.core.identifiers import new_card_barcode
from loyalty.core.personal import Keyring, installed_keyring, seal
from loyalty.demo.data import DEMO_PROGRAMME
from loyalty.imports.fields import check_row
from loyalty.imports.members import CHUNK, import_members
from loyalty.imports.rows import ImportRow, Record, RowRules, read_records
from loyalty.members.models import Member, MemberConsent
from loyalty.members.service import CONSENT_CHANNELS
from loyalty.points.models import LedgerEntry, PointAccount, PointLot
from loyalty.programme.install import install_programme
from loyalty.programme.loader import load_programme
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade
from loyalty.tiers.models import MemberTier
from tests.support.import_files import write_csv


async def fresh(url: str) -> Database:
    db = Database(url)
    await upgrade(db)
    wire_database(db, keyring=Keyring.generate())
    return db


async def with_programme(db: Database, clock: FixedClock) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, load_programme(DEMO_PROGRAMME), clock.now())
        await uow.commit()


async def trouw(db: Database, clock: FixedClock, path: Path, chunk: int) -> tuple[float, float]:
    started = time.perf_counter()
    report = await import_members(db, clock, read_records(path, "csv"), chunk_size=chunk)
    first = time.perf_counter() - started
    assert report.created == report.rows and not report.rejected, report.rejected[:3]
    started = time.perf_counter()
    again = await import_members(db, clock, read_records(path, "csv"), chunk_size=chunk)
    assert again.existing == report.rows
    return first, time.perf_counter() - started


def _member(row: ImportRow, keyring: Keyring, now: datetime, n: int) -> dict[str, Any]:
    key, key_id, wrapped = keyring.new_data_key()
    personal = {k: v for k, v in row.profile.items() if k != "interests" and v is not None}
    personal = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in personal.items()}
    personal["email"] = row.email
    return {
        "member_number": f"{n:09d}",
        "card_barcode": new_card_barcode(),
        "email_index": keyring.blind(row.email or secrets.token_hex(8)),
        "personal": seal(key, personal),
        "data_key_id": key_id,
        "data_key": wrapped,
        "locale": row.profile.get("locale"),
        "interests": row.profile.get("interests") or [],
        "status": "active",
        "joined_at": row.joined_at or now,
        "updated_at": now,
    }


async def _baseline_chunk(
    db: Database, rows: list[ImportRow], keyring: Keyring, now: datetime, start: int
) -> None:
    async with db.engine.execution_options(trouw_write=True).begin() as conn:
        values = [_member(r, keyring, now, start + i) for i, r in enumerate(rows)]
        ids = list(
            await conn.scalars(insert(Member.__table__).returning(Member.__table__.c.id), values)
        )
        consents = [
            {"member_id": m, "channel": c, "granted": r.consents.get(c, False), "updated_at": now}
            for m, r in zip(ids, rows, strict=True)
            for c in CONSENT_CHANNELS
        ]
        await conn.execute(insert(MemberConsent.__table__), consents)
        accounts = [
            {"member_id": m, "balance": sum(lot.points for lot in r.lots), "updated_at": now}
            for m, r in zip(ids, rows, strict=True)
        ]
        await conn.execute(insert(PointAccount.__table__), accounts)
        entries = [
            {
                "member_id": m,
                "kind": "adjust",
                "points": lot.points,
                "occurred_at": lot.earned_at,
                "recorded_at": now,
                "available_at": lot.earned_at,
                "expires_at": lot.expires_at,
                "description": "Opening balance",
                "idempotency_key": f"base:{m}:{i}",
            }
            for m, r in zip(ids, rows, strict=True)
            for i, lot in enumerate(r.lots)
        ]
        table = LedgerEntry.__table__
        entry_ids = list(await conn.scalars(insert(table).returning(table.c.id), entries))
        lots = [
            {
                "member_id": e["member_id"],
                "entry_id": entry_id,
                "amount": e["points"],
                "remaining": e["points"],
                "occurred_at": e["occurred_at"],
                "available_at": e["available_at"],
                "expires_at": e["expires_at"],
            }
            for e, entry_id in zip(entries, entry_ids, strict=True)
        ]
        await conn.execute(insert(PointLot.__table__), lots)
        tiers = [
            {"member_id": m, "tier": "brons", "since": now, "floor_tier": r.tier}
            for m, r in zip(ids, rows, strict=True)
            if r.tier
        ]
        if tiers:
            await conn.execute(insert(MemberTier.__table__), tiers)


async def baseline(db: Database, clock: FixedClock, path: Path, chunk: int) -> float:
    async with db.unit_of_work(write=False) as uow:
        file = await current_file(uow.session)
    assert file.tiers is not None
    zone = file.programme.zone
    rules = RowRules(clock.now(), zone, "NL", frozenset(lv.key for lv in file.tiers.levels))
    keyring = installed_keyring(db.info)
    started = time.perf_counter()
    rows: list[ImportRow] = []
    done = 0
    for record in read_records(path, "csv"):
        assert isinstance(record, Record)
        row = check_row(record, rules)
        assert isinstance(row, ImportRow)
        rows.append(row)
        if len(rows) == chunk:
            await _baseline_chunk(db, rows, keyring, clock.now(), done)
            done, rows = done + len(rows), []
    if rows:
        await _baseline_chunk(db, rows, keyring, clock.now(), done)
    return time.perf_counter() - started


async def run_one(
    name: str, url: str, clock: FixedClock, path: Path, chunk: int
) -> dict[str, float]:
    db = await fresh(url)
    try:
        await with_programme(db, clock)
        if name == "baseline":
            return {"baseline": await baseline(db, clock, path, chunk)}
        first, rerun = await trouw(db, clock, path, chunk)
        return {"trouw": first, "rerun": rerun}
    finally:
        await db.dispose()


def main(rows: int, postgres: bool, chunk: int) -> None:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder) / "members.csv", rows, clock.now().date())
        for name in ("trouw", "baseline"):
            with ExitStack() as stack:
                if postgres:
                    url = stack.enter_context(postgres_database())
                else:
                    url = f"sqlite+aiosqlite:///{Path(folder) / (name + '.db')}"
                timings.update(asyncio.run(run_one(name, url, clock, path, chunk)))
    backend = "PostgreSQL" if postgres else "SQLite"
    print(f"member import, {backend}, {rows} rows, {chunk} a transaction")
    for name, seconds in timings.items():
        print(f"{name:>9}: {seconds:6.1f}s = {rows / seconds:8,.0f} rows/s")
    print(f"100,000 members through Trouw: about {100_000 * timings['trouw'] / rows / 60:.1f} min")
    print(f"trouw takes {timings['trouw'] / timings['baseline']:.1f}x the baseline's time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL (else SQLite)")
    parser.add_argument("--chunk", type=int, default=CHUNK, help="rows per transaction")
    args = parser.parse_args()
    main(args.rows, args.postgres, args.chunk)
