"""The app's `Home` screen over HTTP on SQLite, one worker, 50 connections, against a
hand-written Starlette endpoint (`bench/baseline_home.py`) reading the same rows with the same
engine from the same file, in the same run. Prints throughput, p50 and p99 of each and the
ratio.

    PYTHONPATH=. .venv/bin/python -m bench.bench_home [--clients 50] [--seconds 15] [--members 3]
        [--rounds 3]

`--seconds` is each side's measured time in all, taken in `--rounds` alternating slices.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx

from api.wiring import wire_database
from bench.common import Figures, environment, free_port, load, process, trouw_serve
from loyalty.programme.install import install_programme
from loyalty.programme.loader import parse_programme
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade

PROGRAMME = """
programme: {key: bench, name: Bench, currency: EUR, point_value: "0.01", timezone: Europe/Amsterdam}
points: {pending_days: 14, expiry: {method: end_of_year, years: 1}}
earning:
  base: {points_per_unit: 1, rounding: down}
tiers:
  levels:
    - {key: brons, name: Brons, threshold: 0}
    - {key: zilver, name: Zilver, threshold: 500, earn_multiplier: "1.25"}
offers:
  - {key: welkom, title: 50 extra punten, kind: bonus_points, points: 50, activation: auto}
  - {key: koffie, title: Dubbele punten op koffie, kind: bonus_points, points: 20}
"""
HOME_DOCUMENT = """
query Home($offerContext: OfferContextInput) {
  me {
    id memberNumber firstName
    tier {
      name benefits nextTier { name }
      progress { qualifyingPoints pointsToNextTier periodEndsAt }
    }
    balance { available pending lifetimeEarned expiringSoon { points expiresAt } }
    card { barcodeFormat barcodeMessage }
    offers(first: 10, context: $offerContext) {
      edges { node { id title description imageUrl kind state validUntil } }
    }
    pendingSurvey { id title incentivePoints }
    inbox(first: 5, unreadOnly: true) { totalCount edges { node { id title createdAt } } }
  }
}
"""
SIGN_UP = (
    "mutation SignUp($input: SignUpInput!) { signUp(input: $input) {"
    " session { accessToken } userErrors { code } } }"
)


async def prepare(url: str) -> None:
    db = Database(url)
    wire_database(db)
    try:
        await upgrade(db)
        async with db.unit_of_work() as uow:
            await install_programme(uow.session, parse_programme(PROGRAMME), datetime.now(UTC))
            await uow.commit()
    finally:
        await db.dispose()


def sign_up(base: str, n: int) -> list[str]:
    tokens = []
    with httpx.Client(timeout=60) as http:
        for i in range(n):
            given = {"email": f"home{i}@example.com", "password": "correct horse battery 9"}
            answer = http.post(
                f"{base}/graphql", json={"query": SIGN_UP, "variables": {"input": given}}
            ).json()
            tokens.append(answer["data"]["signUp"]["session"]["accessToken"])
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/home.db"
        asyncio.run(prepare(url))
        env = environment(url)
        port = free_port()
        args = [sys.executable, "-m", "uvicorn", "bench.baseline_home:app", "--port", str(port)]
        args += ["--log-level", "warning", "--no-access-log"]
        with (
            trouw_serve(env, 1) as trouw_base,
            process(args, env, f"http://127.0.0.1:{port}/readyz"),
        ):
            token = sign_up(trouw_base, options.members)[0]
            sides = {
                "hand-written Starlette": f"http://127.0.0.1:{port}",
                "Trouw Home (1 worker)": trouw_base,
            }
            baseline, trouw = _rounds(sides, token, options)
    print(f"Home on SQLite, {options.clients} connections, {options.members} members")
    print(baseline.line())
    print(trouw.line(baseline))


def _rounds(sides: dict[str, str], token: str, options: argparse.Namespace) -> list[Figures]:
    """Both servers run side by side and take turns under load, `rounds` slices each, so a
    change in the machine's load (other work on it) weighs on both alike. Throughput is
    over all slices; p50 is the median of the slices' and p99 the worst slice's."""
    body: dict[str, object] = {"query": HOME_DOCUMENT, "variables": {"offerContext": None}}
    slices: dict[str, list[Figures]] = {label: [] for label in sides}
    cpu = dict.fromkeys(sides, 0.0)
    for _ in range(options.rounds):
        for label, base in sides.items():
            pid = _server_pid(base)
            before = _cpu_seconds(pid)
            slices[label].append(
                load(
                    label,
                    f"{base}/graphql",
                    lambda _i: body,
                    clients=options.clients,
                    seconds=options.seconds / options.rounds,
                    token=token,
                    warmup=0.5,
                )
            )
            cpu[label] += _cpu_seconds(pid) - before
    for label, found in slices.items():
        served = sum(f.requests for f in found)  # the warm-ups' too are in the CPU time
        print(f"{label:<34} server CPU {cpu[label] * 1000 / served:6.1f} ms per request")
    return [_merged(label, found) for label, found in slices.items()]


def _server_pid(base: str) -> int:
    """The process listening on `base`'s port (each side runs one, started with --port)."""
    port = base.rsplit(":", 1)[1].encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(a == b"--port" and b == port for a, b in itertools.pairwise(args)):
                return int(entry.name)
    raise RuntimeError(f"no server process for {base}")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (Linux), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _merged(label: str, slices: list[Figures]) -> Figures:
    return Figures(
        label,
        sum(f.requests for f in slices),
        sum(f.seconds for f in slices),
        statistics.median(f.p50_ms for f in slices),
        max(f.p99_ms for f in slices),
        sum(f.errors for f in slices),
    )


if __name__ == "__main__":
    main()
