"""Purchase recording throughput on SQLite and PostgreSQL, against a bare baseline.

For each backend: N purchases recorded through the real use case (member lock, earning rules,
ledger entries and lots, tier check, outbox event, one transaction each), sequentially and with
C concurrent clients; and, as a baseline in the same run and database, the bare minimum a
purchase needs: one insert and one balance update in one transaction.

    .venv/bin/python bench/bench_purchases.py [--n 2000] [--concurrency 8] [--members 200]

PostgreSQL is used when TROUW_BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@
127.0.0.1:5432/postgres) answers; a throwaway database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from loyalty.core.clock import SystemClock
from loyalty.members import service as members
from loyalty.members.signals import NO_SIGNALS
from loyalty.points.service import MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.programme.install import install_programme
from loyalty.programme.loader import parse_programme
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade

PROGRAMME = """
programme: {key: bench, name: Bench, currency: EUR, point_value: "0.01", timezone: Europe/Amsterdam}
points: {pending_days: 14, expiry: {method: end_of_year, years: 1}}
earning:
  base: {points_per_unit: 1, rounding: down, exclude_categories: [giftcard]}
  rules:
    - {key: pastry, kind: multiplier, multiplier: 2, categories: [pastry]}
    - {key: big, kind: bonus, points: 25, min_order: "20.00"}
  caps: [{per: day, points: 100000}]
tiers:
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: zilver, name: Zilver, threshold: 500, earn_multiplier: "1.25"}
"""
LINES = [
    PurchaseLine("KOF-01", Decimal(2), Decimal("3.20"), "coffee"),
    PurchaseLine("GEB-07", Decimal(1), Decimal("4.75"), "pastry"),
    PurchaseLine("GC-25", Decimal(1), Decimal("25.00"), "giftcard"),
]


async def prepare(db: Database, n_members: int) -> list[int]:
    await upgrade(db)
    now = datetime.now(UTC)
    ids = []
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(PROGRAMME), now)
        for i in range(n_members):
            m = await members.create_member(
                uow.session,
                signals=NO_SIGNALS,
                now=now,
                email=f"bench{i}@example.com",
                password_hash=None,
                profile={},
                consents={},
            )
            ids.append(m.id)
        key = "BIGSERIAL PRIMARY KEY" if db.is_postgres else "INTEGER PRIMARY KEY"
        await uow.session.execute(
            text(f"CREATE TABLE bench_baseline (id {key}, member_id INTEGER, points INTEGER)")
        )
        await uow.session.execute(
            text("CREATE TABLE bench_balance (member_id INTEGER PRIMARY KEY, points INTEGER)")
        )
        for member_id in ids:
            await uow.session.execute(
                text("INSERT INTO bench_balance VALUES (:m, 0)"), {"m": member_id}
            )
        await uow.commit()
    return ids


async def timed(n: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await one(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def bench(label: str, db: Database, n: int, concurrency: int, n_members: int) -> None:
    ids = await prepare(db, n_members)
    service = PointsService(db, SystemClock())
    run = uuid.uuid4().hex[:8]

    async def purchase(i: int) -> None:
        await service.record_purchase(
            PurchaseInput(MemberRef(member_id=ids[i % len(ids)]), f"{run}-{i}", LINES)
        )

    async def baseline(i: int) -> None:
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                text("INSERT INTO bench_baseline (member_id, points) VALUES (:m, 9)"),
                {"m": ids[i % len(ids)]},
            )
            await uow.session.execute(
                text("UPDATE bench_balance SET points = points + 9 WHERE member_id = :m"),
                {"m": ids[i % len(ids)]},
            )
            await uow.commit()

    for c in (1, concurrency):
        base = await timed(n, c, baseline)
        real = await timed(n, c, lambda i, c=c: purchase(i + c * n))
        print(
            f"{label:10} clients={c:<3} purchases/s={real:8.1f}  baseline insert+update/s="
            f"{base:8.1f}  ratio={real / base:5.2f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--members", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            await bench("sqlite", db, args.n, args.concurrency, args.members)
        finally:
            await db.dispose()

    admin_url = os.environ.get(
        "TROUW_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    admin = Database(admin_url)
    name = f"trouw_bench_{uuid.uuid4().hex[:8]}"
    try:
        async with admin.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"postgresql skipped: {exc.__class__.__name__}: {exc}")
        await admin.dispose()
        return
    db = Database(admin_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        await bench("postgresql", db, args.n, args.concurrency, args.members)
    finally:
        await db.dispose()
        async with admin.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
