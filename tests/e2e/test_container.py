"""The container image and the compose file: the image builds, runs as a non-root user and
serves /healthz; compose.yaml has PostgreSQL, Redis, two API processes, a worker and the
scheduler, each with a health check. Building needs a running container engine and the base
image (present, or a reachable registry): without them that test says why and skips."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.server import free_port

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "python:3.11-slim-bookworm"
TROUW_SERVICES = ("migrate", "api-1", "api-2", "worker", "scheduler")


def test_compose_runs_every_part_with_a_health_check() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *TROUW_SERVICES}
    for name, service in services.items():
        if name != "migrate":
            assert service["healthcheck"]["test"], name
    commands = {name: services[name]["command"][0] for name in TROUW_SERVICES}
    assert commands == {
        "migrate": "migrate",
        "api-1": "serve",
        "api-2": "serve",
        "worker": "worker",
        "scheduler": "scheduler",
    }
    for name in ("api-1", "api-2", "worker", "scheduler"):
        env = services[name]["environment"]
        assert env["TROUW_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["TROUW_REDIS_URL"].startswith("redis://")
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_the_image_runs_as_a_user_of_its_own() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") == 2  # a build stage and a runtime stage
    assert "\nUSER 10001:10001\n" in dockerfile


def _engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no container engine: the docker command is not installed"
    info = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines() or ["docker info failed"]
        return f"no usable container engine: {lines[-1]}"
    present = subprocess.run(
        ["docker", "image", "inspect", BASE_IMAGE], capture_output=True, timeout=30
    )
    if present.returncode != 0 and not _registry_reachable():
        return f"the base image {BASE_IMAGE} is not here and no registry is reachable to pull it"
    return None


def _registry_reachable() -> bool:
    try:
        with socket.create_connection(("registry-1.docker.io", 443), timeout=5):
            return True
    except OSError:
        return False


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def test_the_image_builds_and_serves_healthz() -> None:
    problem = _engine_problem()
    if problem is not None:
        pytest.skip(problem)
    tag = f"trouw-test:{uuid.uuid4().hex[:8]}"
    built = _docker("build", "-t", tag, str(REPO), timeout=1800)
    assert built.returncode == 0, built.stderr[-3000:]
    port = free_port()
    started = _docker("run", "-d", "--rm", "-p", f"127.0.0.1:{port}:8000", tag)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        user = _docker("exec", container, "id", "-u")
        assert user.stdout.strip() == "10001"
        deadline = time.monotonic() + 90
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, _docker("logs", container).stderr[-3000:]
            time.sleep(0.5)
        assert answer.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        _docker("rm", "-f", container)
        _docker("rmi", "-f", tag)
