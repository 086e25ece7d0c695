"""The fan-out bench's server side: the members and their tokens, the burst of changes, the
processes it measures (`trouw serve`, and a `trouw worker` beside it on PostgreSQL), and the
baseline (the same fan-out through the in-process bus alone)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from bench.common import stop
from bench.fanout_client import DEADLINE_S
from loyalty.auth.models import AuthSession
from loyalty.auth.tokens import AccessTokens
from loyalty.core.clock import SystemClock
from loyalty.core.events import BalanceChanged
from loyalty.core.identifiers import new_card_barcode
from loyalty.core.models import OutboxEvent
from loyalty.members.models import Member
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade
from notifications.bus import BusMessage, InProcessBus

SECRET = "bench-signing-key-" + "x" * 32
CONTRACT_DIR = Path(__file__).resolve().parents[2] / "shared/contract"
CONTRACT = Path(os.environ.get("TROUW_CONTRACT_DIR") or CONTRACT_DIR) / "member-app/live.graphql"
FALLBACK_QUERY = (
    "subscription OnBalanceChanged { balanceChanged { balance { available pending "
    "lifetimeEarned } entry { id kind points description occurredAt } } }"
)
# BENCH_PROFILE=file profiles the server while the change fans out (bench/profiled.py).
PROFILE = os.environ.get("BENCH_PROFILE")


def contract_query() -> str:
    """The contract's OnBalanceChanged, as the member app sends it."""
    if not CONTRACT.exists():
        return FALLBACK_QUERY
    text = CONTRACT.read_text()
    start = text.index("subscription OnBalanceChanged")
    end = text.find("subscription ", start + 1)
    return text[start : end if end > 0 else None].strip()


def earned(member_id: int, now: datetime) -> BalanceChanged:
    """The change each member hears about: ten points earned."""
    return BalanceChanged(
        member_id=member_id,
        entry_id=member_id,
        kind="earn",
        points=10,
        entry_description="bench",
        occurred_at=now,
        available_at=None,
        expires_at=None,
        available=10,
        pending=0,
        lifetime_earned=10,
        debt=0,
        expiring_points=0,
        expiring_at=None,
    )


async def seed(db: Database, n: int) -> list[tuple[int, str]]:
    """N members, each with a session and an access token for it."""
    await upgrade(db)
    now = datetime.now(UTC)
    tokens = AccessTokens(SECRET.encode(), timedelta(hours=2), SystemClock())
    async with db.unit_of_work() as uow:
        members = [
            {
                "member_number": f"{i:010d}",
                "card_barcode": new_card_barcode(),
                "email": f"fan{i}@example.com",
                "status": "active",
                "interests": [],
                "joined_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ]
        await uow.session.execute(insert(Member), members)
        sessions = [
            {"member_id": i + 1, "created_at": now, "expires_at": now + timedelta(days=1)}
            for i in range(n)
        ]
        await uow.session.execute(insert(AuthSession), sessions)
        await uow.commit()
    return [(i + 1, tokens.issue(i + 1, i + 1)[0]) for i in range(n)]


async def commit_changes(db: Database, member_ids: list[int]) -> None:
    """One `balance.changed` outbox event per member, in one transaction."""
    now = datetime.now(UTC)
    rows = [
        {
            "topic": BalanceChanged.name,
            "version": BalanceChanged.version,
            "member_id": member_id,
            "occurred_at": now,
            "payload": earned(member_id, now).to_payload(),
        }
        for member_id in member_ids
    ]
    async with db.unit_of_work() as uow:
        await uow.session.execute(insert(OutboxEvent), rows)
        await uow.commit()


async def baseline(n: int) -> list[float]:
    """The same fan-out through the in-process bus alone: no network, no relay, no rendering."""
    bus = InProcessBus()
    subscriptions = [bus.subscribe(f"member:{i}") for i in range(n)]
    latencies: list[float] = []

    async def consume(i: int, started: dict[int, float]) -> None:
        async for _ in subscriptions[i]:
            latencies.append(time.perf_counter() - started[0])
            return

    started: dict[int, float] = {}
    tasks = [asyncio.create_task(consume(i, started)) for i in range(n)]
    await asyncio.sleep(0)
    started[0] = time.perf_counter()
    for i in range(n):
        await bus.publish(BusMessage(i, BalanceChanged.name, i, "", {}))
    await asyncio.gather(*tasks)
    return latencies


# The processes.


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int, part: str = "both") -> float:
    """User plus system CPU time of a process (or only `user` or `system`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    ticks = {"user": user, "system": system}.get(part, user + system)
    return ticks / os.sysconf("SC_CLK_TCK")


def settle(pid: int, quiet: float = 0.05, window: float = 0.5) -> None:
    """Wait until the server is (nearly) idle: every subscription has started listening."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before < quiet * window:
            return


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


def environment(url: str, redis: str | None, worker_in_serve: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROUW_")}
    env.update(TROUW_DATABASE_URL=url, TROUW_SECRET_KEY=SECRET, TROUW_LOG_LEVEL="warning")
    # `trouw serve` on SQLite runs the notification worker and the after-commit reactions
    # too, by default; they take the same burst of events (and SQLite's one write lock).
    env.update(TROUW_WORKER_IN_SERVE="true" if worker_in_serve else "false")
    if redis is not None:
        env.update(TROUW_REDIS_URL=redis, TROUW_REDIS_PREFIX=f"trouw-bench-{os.getpid()}:")
    return env


def _start(command: list[str], env: dict[str, str], profile: bool) -> subprocess.Popen[bytes]:
    python = (
        [sys.executable, "-m", "bench.profiled", PROFILE]
        if profile and PROFILE
        else [sys.executable]
    )
    return subprocess.Popen(
        [*python, "-m", "api.cli", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("BENCH_SERVER_STDERR") else subprocess.DEVNULL,
    )


@contextmanager
def served(env: dict[str, str], port: int, worker: bool) -> Iterator[subprocess.Popen[bytes]]:
    """`trouw serve` on 127.0.0.1:`port` (uvicorn runs the app in this very process), and a
    `trouw worker` beside it when `worker`; both stopped on the way out."""
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    server = _start(serve, env, profile=True)
    beside = _start(["worker"], env, profile=False) if worker else None
    try:
        wait_ready(port, server)
        yield server
    finally:
        stop(server)
        if beside is not None:
            stop(beside)
