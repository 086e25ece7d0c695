"""Wallet passes: signed passes per second, and 304 answers per second.

1. Builds and signs a member's .pkpass (pass.json, the programme's images and strings,
   manifest, detached CMS signature, zip) in a loop on one core, next to the raw RSA signing
   rate of the same key over the same manifest in the same run (the baseline: signing is the
   floor of the cost). Rates are per second of this thread's CPU time, so other work on the
   machine does not count; the two loops take turns in short rounds.
2. Asks the PassKit web service for a pass that has not changed (`If-Modified-Since` → 304)
   on a real `trouw` server (SQLite), next to a plain Starlette endpoint answering 304 on the
   same kind of server, with the same HTTP client; also taking turns, in wall-clock time.

    .venv/bin/python bench/bench_passes.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.settings import Settings
from api.wiring import wire_database
from loyalty.core.clock import SystemClock
from loyalty.members.service import create_member
from loyalty.members.signals import NO_SIGNALS
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade
from loyalty.wallet.service import WalletService
from tests.support.data import install
from tests.support.server import free_port, start_server
from tests.wallet.helpers import issuer, view
from wallet.apple.pkpass import build_pkpass, manifest, pass_files
from wallet.devcerts import write_dev_certs

PASS_TYPE = "pass.nl.trouw.demo"


def rates(
    works: dict[str, Callable[[], object]], seconds: float, timer: Callable[[], float]
) -> dict[str, float]:
    """Runs per second of each piece of work, measured with `timer`; the pieces take turns in
    rounds of about 0.1 s, so a busy moment of the machine falls on all of them alike."""
    done = dict.fromkeys(works, 0)
    spent = dict.fromkeys(works, 0.0)
    for work in works.values():
        work()  # warm up (images, imports, caches)
    deadline = time.perf_counter() + seconds * len(works)
    while time.perf_counter() < deadline:
        for name, work in works.items():
            started, round_end = timer(), time.perf_counter() + 0.1
            while time.perf_counter() < round_end:
                work()
                done[name] += 1
            spent[name] += timer() - started
    return {name: done[name] / spent[name] for name in works}


def bench_signing(seconds: float, directory: Path) -> None:
    signer = issuer(write_dev_certs(directory))
    member = view()
    files = pass_files(member, signer)
    data = manifest(files)
    key = signer.credentials.key
    assert isinstance(key, rsa.RSAPrivateKey)
    found = rates(
        {
            "raw": lambda: key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
            "passes": lambda: build_pkpass(member, signer),
        },
        seconds,
        time.thread_time,
    )
    raw, passes = found["raw"], found["passes"]
    print(f"signed passes/s:      {passes:9.0f}   (per second of CPU time on one core)")
    print(f"raw RSA-2048 signs/s: {raw:9.0f}   (baseline, same key and manifest)")
    print(f"ratio:                {passes / raw:9.2f}   (aim: 0.8 or better)")


def plain_server() -> tuple[str, uvicorn.Server]:
    async def not_modified(_: Request) -> Response:
        return Response(status_code=304, headers={"Last-Modified": "Wed, 02 Dec 2026 00:00:00 GMT"})

    port = free_port()
    app = Starlette(routes=[Route("/p", not_modified)])
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}/p", server


async def _member_pass(url: str) -> tuple[str, str]:
    """A member with a pass in a fresh database: (serial number, authentication token)."""
    db = Database(url)
    wire_database(db)  # the keyring that seals the member's personal data
    try:
        await upgrade(db)
        async with db.unit_of_work() as uow:
            member = await create_member(
                uow.session,
                signals=NO_SIGNALS,
                now=datetime.now(UTC),
                email="bench@example.com",
                password_hash=None,
                profile={"first_name": "Bench"},
                consents={},
            )
            await uow.commit()
        found = await WalletService(db, SystemClock()).pass_of(member.id)
    finally:
        await db.dispose()
    return found.serial_number, found.authentication_token


def not_modified_rates(
    requests: dict[str, tuple[str, dict[str, str]]], seconds: float
) -> dict[str, float]:
    """304 answers per second from each (url, headers), one client, wall-clock time."""
    with httpx.Client() as http:

        def asker(url: str, headers: dict[str, str]) -> Callable[[], None]:
            def one() -> None:
                assert http.get(url, headers=headers).status_code == 304

            return one

        works = {name: asker(url, headers) for name, (url, headers) in requests.items()}
        return rates(works, seconds, time.perf_counter)


def bench_not_modified(seconds: float, directory: Path) -> None:
    certs = write_dev_certs(directory / "certs")
    url = f"sqlite+aiosqlite:///{directory / 'trouw.db'}"
    serial, token = asyncio.run(_member_pass(url))
    install(url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        secret_key="bench-signing-key-" + "x" * 32,
        wallet_certificate_file=str(certs.certificate),
        wallet_key_file=str(certs.key),
        wallet_wwdr_file=str(certs.wwdr),
        worker_in_serve=False,
        relay=False,
    )
    trouw = start_server(settings, SystemClock())
    plain_url, plain = plain_server()
    try:
        latest = f"{trouw.url}/wallet/v1/passes/{PASS_TYPE}/{serial}"
        with httpx.Client() as http:
            modified = http.get(latest, headers={"Authorization": f"ApplePass {token}"})
        headers = {
            "Authorization": f"ApplePass {token}",
            "If-Modified-Since": modified.headers["last-modified"],
        }
        found = not_modified_rates({"ours": (latest, headers), "plain": (plain_url, {})}, seconds)
        ours, baseline = found["ours"], found["plain"]
    finally:
        trouw.stop()
        plain.should_exit = True
    print(f"web service 304s/s:   {ours:9.0f}   (authorised pass lookup in SQLite)")
    print(f"plain Starlette 304/s:{baseline:9.0f}   (baseline, same client and server)")
    print(f"ratio:                {ours / baseline:9.2f}   (aim: 0.5 or better)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trouw-bench-passes-") as tmp:
        bench_signing(args.seconds, Path(tmp))
        bench_not_modified(args.seconds, Path(tmp))


if __name__ == "__main__":
    main()
