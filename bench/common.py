"""What the HTTP benchmarks share: a throwaway PostgreSQL database, server processes, and a
load generator that keeps C requests in flight for T seconds and reports throughput and p99."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from loyalty.storage.database import Database

REPO = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get(
    "TROUW_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("TROUW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _admin(statement: str) -> None:
    db = Database(POSTGRES)
    try:
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await db.dispose()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"trouw_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROUW_")}
    env.update(
        PYTHONPATH=str(REPO),
        TROUW_DATABASE_URL=database_url,
        TROUW_SECRET_KEY="bench-signing-key-" + "b" * 32,
        TROUW_ARGON2_TIME_COST="1",
        TROUW_ARGON2_MEMORY_KIB="1024",
        **extra,
    )
    return env


@contextmanager
def process(args: list[str], env: dict[str, str], ready_url: str) -> Iterator[None]:
    """A server process, until `ready_url` answers 200."""
    proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args} exited with {proc.returncode}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args} did not become ready")
            time.sleep(0.2)
        yield
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Interrupt a server process as Ctrl-C would; kill it if it does not end in `timeout`."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def trouw_serve(env: dict[str, str], workers: int = 1) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    with process([*args, "--workers", str(workers)], env, f"http://127.0.0.1:{port}/readyz"):
        yield f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Figures:
    label: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def line(self, against: Figures | None = None) -> str:
        ratio = f"  {self.rate / against.rate:5.2f}x {against.label}" if against else ""
        return (
            f"{self.label:<34} {self.rate:8.1f}/s  p50 {self.p50_ms:6.1f} ms  "
            f"p99 {self.p99_ms:6.1f} ms  errors {self.errors}{ratio}"
        )


Body = Callable[[int], dict[str, Any]]


async def _load(
    url: str, headers: dict[str, str], body: Body, clients: int, seconds: float, warmup: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as http:
        start = time.perf_counter()
        measure_from = start + warmup
        stop = measure_from + seconds

        async def client() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < stop:
                response = await http.post(url, json=body(next(counter)))
                done = time.perf_counter()
                ok = response.status_code == 200 and not response.json().get("errors")
                if now >= measure_from:
                    latencies.append(done - now)
                    errors += 0 if ok else 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - measure_from


def load(
    label: str,
    url: str,
    body: Body,
    *,
    clients: int,
    seconds: float,
    token: str | None = None,
    warmup: float = 1.0,
) -> Figures:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies, errors, elapsed = asyncio.run(_load(url, headers, body, clients, seconds, warmup))
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    return Figures(label, len(latencies), elapsed, pct(0.5), pct(0.99), errors)
