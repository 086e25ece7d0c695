"""`RecordPurchase` over HTTP on PostgreSQL at 16 clients, against a hand-written asyncpg
endpoint doing the same writes and against pgbench's tpcb-like script, in the same run.

The Trouw side is a real `trouw serve` process answering the tills' contract operation with an
API key; the baseline is a Starlette endpoint on a bare asyncpg pool that takes the same JSON,
checks the same key (kept in memory after the first check, as Trouw's key cache does), finds
the member by number, locks the account row, checks the externalId, computes the same points
and writes the same rows (purchase, entries, lots, account, outbox) in one transaction.

    PYTHONPATH=. .venv/bin/python -m bench.bench_purchases [--clients 16] [--seconds 5]
        [--members 200] [--workers 1 2]

`trouw serve` runs with Redis (TROUW_BENCH_REDIS_URL) at each `--workers` count, so the same
run also shows how throughput grows from 1 to 2 worker processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime

from api.wiring import wire_database
from bench.common import (
    REDIS,
    Figures,
    environment,
    free_port,
    load,
    postgres_database,
    process,
    trouw_serve,
)
from bench.purchase_case import PROGRAMME, record_purchase
from bench.server_cpu import measuring, per_request
from loyalty.auth.apikeys import create_api_key
from loyalty.members import service as members
from loyalty.members.signals import NO_SIGNALS
from loyalty.programme.install import install_programme
from loyalty.programme.loader import parse_programme
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade


async def prepare(url: str, n_members: int) -> tuple[list[str], str]:
    db = Database(url)
    wire_database(db)  # the servers' keyring seals the members' personal data
    try:
        await upgrade(db)
        now = datetime.now(UTC)
        async with db.unit_of_work() as uow:
            await install_programme(uow.session, parse_programme(PROGRAMME), now)
            numbers = []
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
                numbers.append(m.member_number)
            _, key = await create_api_key(uow.session, "bench till", ["pos"], now)
            await uow.commit()
    finally:
        await db.dispose()
    return numbers, key


def pgbench(url: str, clients: int, seconds: float) -> Figures:
    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    subprocess.run([binary, "-i", "-q", "-s", "1", dsn], check=True, capture_output=True)
    args = [binary, "-c", str(clients), "-j", "2", "-T", str(int(seconds)), "-r", dsn]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Figures("pgbench tpcb-like", int(tps * seconds), seconds, latency, float("nan"), 0)


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    with postgres_database() as url:
        numbers, key = asyncio.run(prepare(url, options.members))

        def body(i: int) -> dict[str, object]:
            return record_purchase(numbers[i % len(numbers)], f"{run}-{i}")

        figures: list[Figures] = []
        cpu: list[tuple[float, float]] = []
        # Several workers need Redis for live updates across processes, as in production.
        env = environment(url, TROUW_REDIS_URL=REDIS, TROUW_REDIS_PREFIX=f"bench{run}:")
        for workers in options.workers:
            with trouw_serve(env, workers) as base, measuring(_port(base), 1.0) as spent:
                figures.append(
                    load(
                        f"Trouw RecordPurchase ({workers} worker{'s' if workers > 1 else ''})",
                        f"{base}/graphql",
                        lambda i, w=workers: body(w * 10**7 + i),
                        clients=options.clients,
                        seconds=options.seconds,
                        token=key,
                    )
                )
            cpu.append(per_request(spent, figures[-1].requests))
        port = free_port()
        args = [sys.executable, "-m", "bench.baseline_purchases", str(port), url]
        with (
            process(args, environment(url), f"http://127.0.0.1:{port}/ready"),
            measuring(port, 1.0) as spent,
        ):
            baseline = load(
                "asyncpg endpoint, same writes",
                f"http://127.0.0.1:{port}/graphql",
                lambda i: body(10**8 + i),
                clients=options.clients,
                seconds=options.seconds,
                token=key,
            )
        cpu.append(per_request(spent, baseline.requests))
        tpcb = pgbench(url, options.clients, options.seconds)
    report(options, figures, baseline, tpcb, cpu)


def report(
    options: argparse.Namespace,
    figures: list[Figures],
    baseline: Figures,
    tpcb: Figures,
    cpu: list[tuple[float, float]],
) -> None:
    print(f"RecordPurchase on PostgreSQL, {options.clients} clients, {options.seconds:.0f} s each")
    for figure in figures:
        print(figure.line(baseline))
    if len(figures) > 1:
        print(
            f"{options.workers[-1]} workers / 1 worker: {figures[-1].rate / figures[0].rate:.2f}x"
        )
    print(baseline.line())
    print(f"{tpcb.label:<34} {tpcb.rate:8.1f}/s  avg {tpcb.p50_ms:6.1f} ms")
    print(f"Trouw / pgbench tpcb-like: {figures[0].rate / tpcb.rate:.3f}x")
    print("CPU per request (server; load generator):")
    for figure, (server, client) in zip([*figures, baseline], cpu, strict=True):
        print(f"  {figure.label:<34} {server:6.2f} ms; {client:5.2f} ms")
    ratio = cpu[0][0] / cpu[-1][0]
    print(f"Server CPU per purchase, Trouw (1 worker) / asyncpg endpoint: {ratio:.2f}x")
    print(json.dumps({"trouw": figures[0].rate, "asyncpg": baseline.rate, "pgbench": tpcb.rate}))


if __name__ == "__main__":
    main()
