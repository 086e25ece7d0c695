"""Fan-out of live updates: N members each subscribed over graphql-transport-ws, one change each.

Starts a real `trouw serve` on 127.0.0.1 (SQLite with the in-process bus, or PostgreSQL with
Redis and a separate `trouw worker`), opens N websocket subscriptions of the contract's
`OnBalanceChanged` (one per member, each with its own access token) from a few client
processes (`bench/fanout_client.py`), then commits one `balance.changed` outbox event per
member in a single transaction and times each delivery from that commit to the client.

Prints, for the server process: CPU per connection (connecting, authenticating and
subscribing), memory (RSS) per connection, latency percentiles from commit to client, and
CPU per delivery; the client processes' CPU while receiving (they share the cores); and as
the baseline in the same run, the same fan-out through the bus alone (no network, no relay).
Every phase has a deadline (BENCH_DEADLINE, 120 s): the bench always ends.

    .venv/bin/python -m bench.bench_fanout [--subscribers 10000] [--clients 2]
        [--no-worker | --postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.common import REDIS, postgres_database
from bench.fanout_client import DEADLINE_S, client_process, raise_fd_limit
from bench.fanout_setup import (
    PROFILE,
    baseline,
    commit_changes,
    contract_query,
    cpu_seconds,
    environment,
    rss_kib,
    seed,
    served,
    settle,
)
from loyalty.storage.database import Database


@dataclass
class Run:
    """The figures of one run against a served `trouw serve`."""

    n: int
    failed: int = 0
    connect_s: float = 0.0
    connect_cpu: float = 0.0
    deliver_cpu: float = 0.0
    deliver_kernel: float = 0.0
    idle_cpu_rate: float = 0.0
    client_cpu: float = 0.0
    delivery_wall: float = 0.0
    idle_kib: int = 0
    loaded_kib: int = 0
    latencies: list[float] = field(default_factory=list)


def _expect(pipe: Connection, what: str) -> Any:
    if not pipe.poll(DEADLINE_S * 2):
        raise RuntimeError(f"a client process did not report {what!r} in time")
    kind, value = pipe.recv()
    assert kind == what, kind
    return value


def _start_clients(
    port: int, tokens: list[str], clients: int
) -> tuple[list[Connection], list[multiprocessing.process.BaseProcess]]:
    spawn = multiprocessing.get_context("spawn")
    query = contract_query()
    pipes, processes = [], []
    for k in range(clients):
        ours, theirs = spawn.Pipe()
        process = spawn.Process(
            target=client_process, args=(port, tokens[k::clients], query, theirs)
        )
        process.start()
        pipes.append(ours)
        processes.append(process)
    return pipes, processes


async def _deliver(
    db: Database, run: Run, members: list[int], pid: int, pipes: list[Connection]
) -> None:
    """Commit the burst and collect what the clients heard."""
    if PROFILE:
        os.kill(pid, signal.SIGUSR1)
    await commit_changes(db, members)
    committed, cpu = time.monotonic(), cpu_seconds(pid)
    kernel = cpu_seconds(pid, "system")
    for pipe in pipes:
        pipe.send("collect")
    heard = [_expect(pipe, "received") for pipe in pipes]
    run.delivery_wall = time.monotonic() - committed
    if PROFILE:
        os.kill(pid, signal.SIGUSR2)
    run.deliver_cpu = cpu_seconds(pid) - cpu - run.idle_cpu_rate * run.delivery_wall
    run.deliver_kernel = cpu_seconds(pid, "system") - kernel
    run.latencies = [at - committed for received, _ in heard for at in received]
    run.client_cpu = sum(spent for _, spent in heard)


async def measure(
    db: Database, members: list[tuple[int, str]], port: int, pid: int, clients: int
) -> Run:
    """uvicorn runs the app in the process it was started as (one worker): `pid`."""
    run = Run(len(members))
    run.idle_kib = rss_kib(pid)
    # The server's loops run while idle; that CPU is not the connections'.
    before, t = cpu_seconds(pid), time.monotonic()
    time.sleep(2)
    run.idle_cpu_rate = (cpu_seconds(pid) - before) / (time.monotonic() - t)
    t, cpu = time.monotonic(), cpu_seconds(pid)
    pipes, processes = _start_clients(port, [token for _, token in members], clients)
    try:
        run.failed = sum(int(_expect(pipe, "subscribed")) for pipe in pipes)
        run.connect_s = time.monotonic() - t
        settle(pid)
        run.connect_cpu = cpu_seconds(pid) - cpu - run.idle_cpu_rate * (time.monotonic() - t)
        run.loaded_kib = rss_kib(pid)
        await _deliver(db, run, [member_id for member_id, _ in members], pid, pipes)
        for pipe in pipes:
            pipe.send("close")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return run


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (
        f"p50={at(0.50):7.1f} ms  p90={at(0.90):7.1f} ms  p99={at(0.99):7.1f} ms  "
        f"max={ordered[-1] * 1000:7.1f} ms"
    )


def report(run: Run, base: list[float]) -> None:
    n, got = run.n, len(run.latencies)
    print(
        f"subscribers={n}  subscribed={n - run.failed}  delivered={got}  "
        f"connect={run.connect_s:.1f}s"
    )
    print(f"server CPU while idle: {run.idle_cpu_rate * 100:.1f} %")
    print(
        f"server CPU per connection (connect, authenticate, subscribe): "
        f"{run.connect_cpu / n * 1000:.2f} ms;  per delivery: "
        f"{run.deliver_cpu / max(got, 1) * 1000:.3f} ms "
        f"(of which in the kernel {run.deliver_kernel / max(got, 1) * 1000:.3f} ms)"
    )
    print(
        f"client processes' CPU while receiving: {run.client_cpu:.2f} s over "
        f"{run.delivery_wall:.2f} s ({run.client_cpu / max(got, 1) * 1000:.3f} ms per delivery)"
    )
    if got:
        print(
            f"served over websockets:  {_percentiles(run.latencies)}  "
            f"({got / max(run.latencies):,.0f}/s)"
        )
    print(f"baseline bus only:       {_percentiles(base)}")
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


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument(
        "--no-worker",
        action="store_true",
        help="SQLite, served without the notification worker (as beside a `trouw worker`)",
    )
    layout.add_argument(
        "--postgres",
        action="store_true",
        help="PostgreSQL and Redis (TROUW_BENCH_POSTGRES_URL, TROUW_BENCH_REDIS_URL), the "
        "notification worker in a `trouw worker` process beside the server",
    )
    return parser.parse_args()


async def _bench(args: argparse.Namespace, url: str, redis: str | None) -> Run:
    db = Database(url)
    try:
        members = await seed(db, args.subscribers)
        port = 18000 + os.getpid() % 1000
        in_serve = not (args.no_worker or args.postgres)
        env = environment(url, redis, worker_in_serve=in_serve)
        with served(env, port, worker=args.postgres) as server:
            return await measure(db, members, port, server.pid, args.clients)
    finally:
        await db.dispose()


def main() -> None:
    args = _arguments()
    raise_fd_limit()  # the server inherits it
    with ExitStack() as stack:
        if args.postgres:
            url, redis = stack.enter_context(postgres_database()), REDIS
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            url, redis = f"sqlite+aiosqlite:///{Path(tmp) / 'fanout.db'}", None
        run = asyncio.run(_bench(args, url, redis))
    layout = "PostgreSQL + Redis, `trouw worker` beside" if args.postgres else "SQLite"
    worker = "no" if args.no_worker or args.postgres else "yes"
    print(f"{layout}; notification worker in the server: {worker}; load: {os.getloadavg()}")
    report(run, asyncio.run(baseline(args.subscribers)))


if __name__ == "__main__":
    main()
