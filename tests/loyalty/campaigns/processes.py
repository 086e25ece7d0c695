"""Starting journey workers as processes of their own, and waiting for them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from tests.support.processes import REPO, environment


def start_journey_worker(database_url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.loyalty.campaigns.journey_worker"],
        env=environment(database_url, TEST_DATABASE_URL=database_url),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "journey worker ready" in line, line + proc.stdout.read()
    return proc


def output_of(proc: subprocess.Popen[str]) -> str:
    return proc.stdout.read() if proc.stdout else ""


async def wait_until(
    done: Callable[[], Awaitable[bool]],
    workers: list[subprocess.Popen[str]],
    seconds: float,
    what: str,
) -> None:
    """Poll `done` until it holds; fail at once if a worker died (with its output)."""
    deadline = time.monotonic() + seconds
    while not await done():
        for proc in workers:
            if proc.poll() is not None:
                raise AssertionError(f"a journey worker exited: {output_of(proc)}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def stop(workers: list[subprocess.Popen[str]]) -> None:
    for proc in workers:
        if proc.poll() is None:
            proc.terminate()
    for proc in workers:
        code = proc.wait(timeout=30)
        assert code in (0, -9), output_of(proc)
