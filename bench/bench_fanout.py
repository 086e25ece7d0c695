"""Fan-out of live updates: N members each subscribed over graphql-transport-ws, one change each.

Starts a real `trouw serve` (SQLite, in-process bus) on 127.0.0.1, opens N websocket
subscriptions of the contract's `OnBalanceChanged` (one per member, each with its own access
token) from a few client processes, then commits one `balance.changed` outbox event per
member in a single transaction and times each delivery from that commit to the client.

Prints, for the server process: CPU per connection (connecting, authenticating and
subscribing), memory (RSS) per connection, latency percentiles from commit to client, and
CPU per delivery; and as the baseline in the same run, the same fan-out through the bus alone
(no network, no relay). The clients offer permessage-deflate, as browsers and OkHttp do.

    .venv/bin/python bench/bench_fanout.py [--subscribers 10000] [--clients 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import insert
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

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
# BENCH_PROFILE=file runs the server under cProfile, written to that file when it stops.
PROFILE = (
    ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if "BENCH_PROFILE" in os.environ else []
)
DEADLINE_S = float(
    os.environ.get("BENCH_DEADLINE", "120")
)  # every phase gives up after this long: the bench always ends


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


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


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (
        f"p50={at(0.50):7.1f} ms  p90={at(0.90):7.1f} ms  p99={at(0.99):7.1f} ms  "
        f"max={ordered[-1] * 1000:7.1f} ms"
    )


# The client side: a few processes, each holding its share of the sockets with websockets'
# sans-I/O protocol under plain asyncio transports (so the clients cost little CPU).


class Subscriber(asyncio.Protocol):
    def __init__(self, url: str, token: str, query: str, subscribed: asyncio.Future[None]) -> None:
        self.conn = ClientProtocol(
            parse_uri(url),
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            extensions=[ClientPerMessageDeflateFactory()],
        )
        self.token = token
        self.query = query
        self.subscribed = subscribed
        self.received_at: float | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.conn.send_request(self.conn.connect())
        self._flush()

    def _send(self, message: dict[str, object]) -> None:
        self.conn.send_text(json.dumps(message).encode())

    def _flush(self) -> None:
        assert self.transport is not None
        for data in self.conn.data_to_send():
            if data:
                self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if isinstance(event, Response):
                init = {"authorization": f"Bearer {self.token}"}
                self._send({"type": "connection_init", "payload": init})
            elif isinstance(event, Frame) and event.opcode == Opcode.TEXT:
                self._on_text(bytes(event.data))
        self._flush()

    def _on_text(self, text: bytes) -> None:
        if b'"next"' in text:
            if self.received_at is None:
                self.received_at = time.monotonic()
        elif b'"connection_ack"' in text:
            self._send({"type": "subscribe", "id": "1", "payload": {"query": self.query}})
            if not self.subscribed.done():
                self.subscribed.set_result(None)
        elif b'"ping"' in text:
            self._send({"type": "pong"})

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(exc or ConnectionError("closed"))


async def _client(port: int, tokens: list[str], query: str, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    url = f"ws://127.0.0.1:{port}/graphql"
    gate = asyncio.Semaphore(50)
    subscribers: list[Subscriber] = []

    async def one(token: str) -> None:
        async with gate:
            subscribed: asyncio.Future[None] = loop.create_future()
            subscriber = Subscriber(url, token, query, subscribed)
            subscribers.append(subscriber)
            await loop.create_connection(lambda: subscriber, "127.0.0.1", port)
            await asyncio.wait_for(subscribed, DEADLINE_S)

    results = await asyncio.gather(*(one(t) for t in tokens), return_exceptions=True)
    failed = sum(1 for r in results if isinstance(r, BaseException))
    pipe.send(("subscribed", failed))
    await loop.run_in_executor(None, pipe.recv)  # the parent says: collect now
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and any(s.received_at is None for s in subscribers):
        await asyncio.sleep(0.05)
    pipe.send(("received", [s.received_at for s in subscribers if s.received_at is not None]))
    await loop.run_in_executor(None, pipe.recv)  # then: close
    for subscriber in subscribers:
        if subscriber.transport is not None:
            subscriber.transport.close()


def client_process(port: int, tokens: list[str], query: str, pipe: Connection) -> None:
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client(port, tokens, query, pipe))


# The server side and the run.


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


async def commit_changes(db: Database, member_ids: list[int]) -> None:
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
                for member_id in member_ids
            ],
        )
        await uow.commit()


def settle(pid: int, quiet: float = 0.05, window: float = 0.5) -> None:
    """Wait until the server is (nearly) idle: every subscription has started listening."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before < quiet * window:
            return


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


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


def contract_query() -> str:
    """The contract's OnBalanceChanged, as the member app sends it."""
    if not CONTRACT.exists():
        return FALLBACK_QUERY
    text = CONTRACT.read_text()
    start = text.index("subscription OnBalanceChanged")
    end = text.find("subscription ", start + 1)
    return text[start : end if end > 0 else None].strip()


class Run:
    """The figures of one run against a served `trouw serve`."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.failed = 0
        self.connect_s = self.connect_cpu = self.deliver_cpu = self.idle_cpu_rate = 0.0
        self.deliver_kernel = 0.0
        self.idle_kib = self.loaded_kib = 0
        self.latencies: list[float] = []


def serve(url: str, port: int, worker: bool) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROUW_")}
    env.update(TROUW_DATABASE_URL=url, TROUW_SECRET_KEY=SECRET, TROUW_LOG_LEVEL="warning")
    # On SQLite `trouw serve` also runs the notification worker and the after-commit
    # reactions, which take the same burst of events (and SQLite's one write lock).
    env.update(TROUW_WORKER_IN_SERVE="true" if worker else "false")
    return subprocess.Popen(
        [
            sys.executable,
            *PROFILE,
            "-m",
            "api.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("BENCH_SERVER_STDERR") else subprocess.DEVNULL,
    )


async def measure(
    db: Database, members: list[tuple[int, str]], port: int, server_pid: int, clients: int
) -> Run:
    """uvicorn runs the app in the process it was started as (one worker): `server_pid`."""
    run = Run(len(members))
    run.idle_kib = rss_kib(server_pid)
    # The server polls the outbox while idle; that CPU is not the connections'.
    before, t = cpu_seconds(server_pid), time.monotonic()
    time.sleep(2)
    run.idle_cpu_rate = (cpu_seconds(server_pid) - before) / (time.monotonic() - t)
    spawn = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    query = contract_query()
    t, cpu = time.monotonic(), cpu_seconds(server_pid)
    for k in range(clients):
        ours, theirs = spawn.Pipe()
        share = [token for _, token in members[k::clients]]
        process = spawn.Process(target=client_process, args=(port, share, query, theirs))
        process.start()
        pipes.append(ours)
        processes.append(process)
    try:
        for pipe in pipes:
            run.failed += int(_expect(pipe, "subscribed"))
        run.connect_s = time.monotonic() - t
        settle(server_pid)
        run.connect_cpu = cpu_seconds(server_pid) - cpu - run.idle_cpu_rate * (time.monotonic() - t)
        run.loaded_kib = rss_kib(server_pid)
        await commit_changes(db, [member_id for member_id, _ in members])
        committed, cpu = time.monotonic(), cpu_seconds(server_pid)
        kernel = cpu_seconds(server_pid, "system")
        for pipe in pipes:
            pipe.send("collect")
        received = [at for pipe in pipes for at in _expect(pipe, "received")]
        run.deliver_cpu = cpu_seconds(server_pid) - cpu
        run.deliver_kernel = cpu_seconds(server_pid, "system") - kernel
        run.deliver_cpu -= run.idle_cpu_rate * (time.monotonic() - committed)
        run.latencies = [at - committed for at in received]
        for pipe in pipes:
            pipe.send("close")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return run


def _expect(pipe: Connection, what: str) -> Any:
    if not pipe.poll(DEADLINE_S * 2):
        raise RuntimeError(f"a client process did not report {what!r} in time")
    kind, value = pipe.recv()
    assert kind == what, kind
    return value


def report(run: Run, base: list[float]) -> None:
    n, got = run.n, len(run.latencies)
    print(
        f"subscribers={n}  subscribed={n - run.failed}  delivered={got}  "
        f"connect={run.connect_s:.1f}s"
    )
    print(f"server CPU while idle (polling the outbox): {run.idle_cpu_rate * 100:.1f} %")
    print(
        f"server CPU per connection (connect, authenticate, subscribe): "
        f"{run.connect_cpu / n * 1000:.2f} ms;  per delivery: "
        f"{run.deliver_cpu / max(got, 1) * 1000:.3f} ms "
        f"(of which in the kernel {run.deliver_kernel / max(got, 1) * 1000:.3f} ms)"
    )
    if got:
        done = max(run.latencies)
        print(f"served over websockets:  {percentiles(run.latencies)}  ({got / done:,.0f}/s)")
    print(f"baseline bus only:       {percentiles(base)}")
    if got:
        ratio = statistics.median(run.latencies) / statistics.median(base)
        p99 = sorted(run.latencies)[min(got - 1, int(0.99 * got))]
        base99 = sorted(base)[min(len(base) - 1, int(0.99 * len(base)))]
        print(f"ratio served/baseline: p50 {ratio:,.1f}x  p99 {p99 / base99:,.1f}x")
    print(
        f"server memory (RSS): idle={run.idle_kib / 1024:.0f} MiB  with {n} subscriptions="
        f"{run.loaded_kib / 1024:.0f} MiB  per connection="
        f"{(run.loaded_kib - run.idle_kib) / n:.1f} KiB"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="serve without the notification worker (as beside a separate `trouw worker`)",
    )
    args = parser.parse_args()
    raise_fd_limit()  # the server inherits it
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'fanout.db'}"
        db = Database(url)
        members = await seed(db, args.subscribers)
        port = 18000 + os.getpid() % 1000
        server = serve(url, port, worker=not args.no_worker)
        try:
            wait_ready(port)
            run = await measure(db, members, port, server.pid, args.clients)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            await db.dispose()
    print(f"notification worker in the server: {'no' if args.no_worker else 'yes'}")
    report(run, await baseline(args.subscribers))


if __name__ == "__main__":
    asyncio.run(main())
