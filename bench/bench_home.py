"""The app's `Home` screen over HTTP on SQLite, one worker, 50 connections, against a
hand-written Starlette endpoint (`bench/baseline_home.py`) reading the same rows with the same
engine from the same file, in the same run. Prints throughput, p50 and p99 of each and the
ratio.

    PYTHONPATH=. .venv/bin/python -m bench.bench_home [--clients 50] [--seconds 5] [--members 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime

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
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--members", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/home.db"
        asyncio.run(prepare(url))
        env = environment(url)
        body: dict[str, object] = {"query": HOME_DOCUMENT, "variables": {"offerContext": None}}
        with trouw_serve(env, 1) as base:
            token = sign_up(base, options.members)[0]
            trouw = _run(
                "Trouw Home (1 worker)", base, token, body, options.seconds, options.clients
            )
        port = free_port()
        args = [sys.executable, "-m", "uvicorn", "bench.baseline_home:app", "--port", str(port)]
        args += ["--log-level", "warning", "--no-access-log"]
        with process(args, env, f"http://127.0.0.1:{port}/readyz"):
            base = f"http://127.0.0.1:{port}"
            baseline = _run(
                "hand-written Starlette", base, token, body, options.seconds, options.clients
            )
    print(f"Home on SQLite, {options.clients} connections, {options.members} members")
    print(baseline.line())
    print(trouw.line(baseline))


def _run(
    label: str, base: str, token: str, body: dict[str, object], seconds: float, clients: int
) -> Figures:
    return load(
        label, f"{base}/graphql", lambda _i: body, clients=clients, seconds=seconds, token=token
    )


if __name__ == "__main__":
    main()
