"""`trouw scheduler --metrics-port` serves the job runs it counted, as Prometheus scrapes them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.test_cli_and_serve import REPO, environment, trouw
from tests.support.server import free_port


def test_the_scheduler_serves_its_job_metrics(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
    assert trouw("migrate", env=env).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "scheduler",
            "--interval",
            "1",
            "--metrics-port",
            str(port),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
                if 'trouw_job_runs_total{job="expire",outcome="ok"}' in text:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "no job runs were counted"
            time.sleep(0.2)
        assert 'trouw_job_duration_seconds_count{job="tiers"}' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
