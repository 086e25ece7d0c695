"""Fan-out of live updates: N members each subscribed over graphql-transport-ws, one change each.

Starts a real `trouw serve` (SQLite, in-process bus), opens N websocket subscriptions of
`balanceChanged` (one per member, each with its own access token), then commits one
`balance.changed` outbox event per member in a single transaction and times each delivery from
that commit to the client. Prints latency percentiles, delivery throughput and server memory
per connection, and as a baseline in the same run the same fan-out through the bus alone
(no network, no relay).

    .venv/bin/python bench/bench_fanout.py [--subscribers 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import websockets
from sqlalchemy import insert

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
QUERY = "subscription { balanceChanged { entry { id points } } }"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (
        f"p50={at(0.50):7.1f} ms  p90={at(0.90):7.1f} ms  p99={at(0.99):7.1f} ms  "
        f"max={ordered[-1] * 1000:7.1f} ms"
    )


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
    await upgrade(db)
    now = datetime.now(UTC)
    tokens = AccessTokens(SECRET.encode(), timedelta(hours=2), SystemClock())
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            insert(Member),
            [
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
            ],
        )
        await uow.session.execute(
            insert(AuthSession),
            [
                {"member_id": i + 1, "created_at": now, "expires_at": now + timedelta(days=1)}
                for i in range(n)
            ],
        )
        await uow.commit()
    return [(i + 1, tokens.issue(i + 1, i + 1)[0]) for i in range(n)]


async def subscribe(
    url: str, token: str, received: dict[int, float]
) -> websockets.ClientConnection:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"], max_queue=4)
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": QUERY}}))

    async def reader() -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "next":
                received[message["payload"]["data"]["balanceChanged"]["entry"]["id"]] = (
                    time.perf_counter()
                )

    asyncio.get_running_loop().create_task(reader())
    return ws


async def baseline(n: int) -> list[float]:
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=5000)
    args = parser.parse_args()
    n = args.subscribers

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'fanout.db'}"
        db = Database(url)
        members = await seed(db, n)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TROUW_")}
        env.update(TROUW_DATABASE_URL=url, TROUW_SECRET_KEY=SECRET, TROUW_LOG_LEVEL="warning")
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            idle = rss_kib(server.pid)
            received: dict[int, float] = {}
            gate = asyncio.Semaphore(100)
            ws_url = f"ws://127.0.0.1:{port}/graphql"

            async def one(token: str) -> websockets.ClientConnection:
                async with gate:
                    return await subscribe(ws_url, token, received)

            t, cpu = time.perf_counter(), cpu_seconds(server.pid)
            sockets = await asyncio.gather(*(one(token) for _, token in members))
            connect_s = time.perf_counter() - t
            connect_cpu = cpu_seconds(server.pid) - cpu
            await asyncio.sleep(3)  # every subscription listening
            loaded = rss_kib(server.pid)

            now = datetime.now(UTC)
            async with db.unit_of_work() as uow:
                await uow.session.execute(
                    insert(OutboxEvent),
                    [
                        {
                            "topic": BalanceChanged.name,
                            "version": BalanceChanged.version,
                            "member_id": member_id,
                            "occurred_at": now,
                            "payload": earned(member_id, now).to_payload(),
                        }
                        for member_id, _ in members
                    ],
                )
                await uow.commit()
            committed, cpu = time.perf_counter(), cpu_seconds(server.pid)
            deadline = committed + 120
            while len(received) < n and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            latencies = [at - committed for at in received.values()]
            deliver_cpu = cpu_seconds(server.pid) - cpu
            for ws in sockets:
                await ws.close()
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
            await db.dispose()

    base = await baseline(n)
    done = max(latencies) if latencies else float("nan")
    print(
        f"subscribers={n}  delivered={len(latencies)}  connect={connect_s:.1f}s "
        f"(server CPU {connect_cpu / n * 1000:.1f} ms per connection, "
        f"{deliver_cpu / max(len(latencies), 1) * 1000:.2f} ms per delivery)"
    )
    print(f"served over websockets:  {percentiles(latencies)}  ({len(latencies) / done:,.0f}/s)")
    print(f"baseline bus only:       {percentiles(base)}")
    print(
        f"p50 ratio served/baseline={statistics.median(latencies) / statistics.median(base):,.0f}x"
    )
    print(
        f"server memory: idle={idle / 1024:.0f} MiB  with {n} subscriptions="
        f"{loaded / 1024:.0f} MiB  per connection={(loaded - idle) / n:.1f} KiB"
    )


if __name__ == "__main__":
    asyncio.run(main())
