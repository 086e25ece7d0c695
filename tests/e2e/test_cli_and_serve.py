"""The `trouw` command as a user runs it: a real process, a real server, real HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loyalty.demo.data import DEMO_PASSWORD, DEMO_TILL_KEY
from tests.contract.operations import operation
from tests.support.server import free_port

TROUW = [sys.executable, "-m", "api.cli"]
REPO = Path(__file__).resolve().parents[2]


def trouw(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TROUW, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROUW_")}
    env.update(
        TROUW_DATABASE_URL=database_url,
        TROUW_ARGON2_TIME_COST="1",
        TROUW_ARGON2_MEMORY_KIB="1024",
        **extra,
    )
    return env


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return environment(f"sqlite+aiosqlite:///{tmp_path / 'trouw.db'}")


@pytest.fixture
def served(clean_database: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`trouw serve --demo` as a process, on each backend; yields (base URL, its output)."""
    port = free_port()
    env = environment(clean_database, TROUW_WALLET_DEV_CERTS_DIR=str(tmp_path / "wallet"))
    proc = subprocess.Popen(
        [*TROUW, "serve", "--demo", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"trouw serve exited: {proc.stdout.read() if proc.stdout else ''}"
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("trouw serve did not become ready")
            time.sleep(0.1)
        yield base, ""
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        assert proc.returncode == 0, output
        assert "Demo till key:  " + DEMO_TILL_KEY in output


def gql(
    base: str, query: str, variables: dict[str, object] | None = None, token: str | None = None
) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


def test_serve_runs_the_member_journey_and_the_demo(served: tuple[str, str]) -> None:
    base, _ = served
    auth, profile = "member-app/auth.graphql", "member-app/profile.graphql"
    up = gql(
        base,
        operation(auth, "SignUp"),
        {"input": {"email": "e2e@example.com", "password": "paraplu-zeilboot-71"}},
    )["signUp"]
    assert up["userErrors"] == []  # type: ignore[index]
    session = gql(
        base,
        operation(auth, "SignIn"),
        {"input": {"email": "e2e@example.com", "password": "paraplu-zeilboot-71"}},
    )["signIn"]["session"]  # type: ignore[index]
    token = session["accessToken"]
    assert gql(base, operation(profile, "Profile"), token=token)["me"]["email"] == "e2e@example.com"  # type: ignore[index]
    upd = gql(base, operation(profile, "UpdateProfile"), {"input": {"firstName": "Sem"}}, token)
    assert upd["updateProfile"]["member"]["firstName"] == "Sem"  # type: ignore[index]
    consent = gql(
        base,
        operation(profile, "SetConsent"),
        {"input": {"channel": "SMS", "granted": True}},
        token,
    )
    assert consent["setConsent"]["consent"]["granted"] is True  # type: ignore[index]
    fresh = gql(
        base,
        operation(auth, "RefreshSession"),
        {"input": {"refreshToken": session["refreshToken"]}},
    )["refreshSession"]["session"]  # type: ignore[index]
    out = gql(base, operation(auth, "SignOut"), {"input": {}}, fresh["accessToken"])
    assert out["signOut"]["userErrors"] == []  # type: ignore[index]

    # The demo member and the demo till key printed by `serve --demo` work.
    demo = gql(
        base,
        operation(auth, "SignIn"),
        {"input": {"email": "anna@example.com", "password": DEMO_PASSWORD}},
    )["signIn"]["session"]  # type: ignore[index]
    card = gql(base, "{ me { card { barcodeMessage } } }", token=demo["accessToken"])
    barcode = card["me"]["card"]["barcodeMessage"]  # type: ignore[index]
    found = gql(
        base,
        "query($b: String!) { memberByCard(barcodeMessage: $b) { firstName } }",
        {"b": barcode},
        DEMO_TILL_KEY,
    )
    assert found["memberByCard"]["firstName"] == "Anna"  # type: ignore[index]
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}

    # The demo serves wallet passes, signed with development certificates made on first start.
    wallet = gql(base, "{ me { walletPass { appleWalletUrl } } }", token=demo["accessToken"])
    url = wallet["me"]["walletPass"]["appleWalletUrl"]  # type: ignore[index]
    assert url.startswith(base)
    download = httpx.get(url)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/vnd.apple.pkpass"


def test_every_command_has_help(sqlite_env: dict[str, str]) -> None:
    for command in (
        ["--help"],
        ["serve", "--help"],
        ["migrate", "--help"],
        ["demo", "--help"],
        ["programme", "apply", "--help"],
        ["apikey", "create", "--help"],
        ["apikey", "list", "--help"],
        ["apikey", "revoke", "--help"],
        ["jobs", "run", "--help"],
        ["scheduler", "--help"],
        ["worker", "--help"],
        ["requeue-dead", "--help"],
        ["export-schema", "--help"],
        ["export-error-codes", "--help"],
    ):
        result = trouw(*command, env=sqlite_env)
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout


def test_migrate_demo_and_api_keys(sqlite_env: dict[str, str]) -> None:
    assert trouw("migrate", env=sqlite_env).returncode == 0
    assert trouw("migrate", env=sqlite_env).returncode == 0
    first = trouw("demo", env=sqlite_env)
    assert first.returncode == 0 and DEMO_TILL_KEY in first.stdout
    again = trouw("demo", env=sqlite_env)
    assert again.returncode == 0 and "already loaded" in again.stdout

    created = trouw("apikey", "create", "--name", "Till 3", "--scope", "pos", env=sqlite_env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("trw_") and "cannot be shown again" in created.stderr
    listed = trouw("apikey", "list", env=sqlite_env)
    key_id = key.split("_")[1]
    assert key_id in listed.stdout and key not in listed.stdout
    assert trouw("apikey", "revoke", key_id, env=sqlite_env).returncode == 0
    assert "revoked" in trouw("apikey", "list", env=sqlite_env).stdout
    unknown = trouw("apikey", "revoke", "nosuchkey000", env=sqlite_env)
    assert unknown.returncode == 1 and "No API key" in unknown.stderr

    bad_scope = trouw("apikey", "create", "--name", "x", "--scope", "root", env=sqlite_env)
    assert bad_scope.returncode == 2


def test_programme_apply_reports_positions(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    assert trouw("migrate", env=sqlite_env).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "programme:\n  key: shop\n  name: Shop\n  currency: euro\n"
        "  point_value: '0.01'\n  timezone: Mars/Olympus\n",
        encoding="utf-8",
    )
    result = trouw("programme", "apply", str(bad), env=sqlite_env)
    assert result.returncode == 1
    assert f"{bad}:4:13: programme.currency" in result.stderr
    assert f"{bad}:6:13: programme.timezone" in result.stderr

    good = tmp_path / "good.yaml"
    good.write_text(
        bad.read_text().replace("euro", "EUR").replace("Mars/Olympus", "Europe/Amsterdam")
    )
    assert trouw("programme", "apply", str(good), "--check", env=sqlite_env).returncode == 0
    applied = trouw("programme", "apply", str(good), env=sqlite_env)
    assert applied.returncode == 0 and "created" in applied.stdout
    assert "updated" in trouw("programme", "apply", str(good), env=sqlite_env).stdout
    other = tmp_path / "other.yaml"
    other.write_text(good.read_text().replace("key: shop", "key: other"))
    mismatch = trouw("programme", "apply", str(other), env=sqlite_env)
    assert mismatch.returncode == 1 and "runs programme 'shop'" in mismatch.stderr


def test_bad_configuration_fails_clearly(tmp_path: Path) -> None:
    env = environment("mysql://nobody@localhost/trouw")
    result = trouw("migrate", env=env)
    assert result.returncode == 1 and "unsupported database URL" in result.stderr
    env = environment(
        f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", TROUW_ACCESS_TOKEN_TTL_SECONDS="5"
    )
    result = trouw("migrate", env=env)
    assert result.returncode == 1 and "TROUW_ACCESS_TOKEN_TTL_SECONDS" in result.stderr


def test_export_schema_check(tmp_path: Path, sqlite_env: dict[str, str]) -> None:
    target = tmp_path / "schema.graphql"
    assert trouw("export-schema", "--check", "-o", str(target), env=sqlite_env).returncode == 1
    assert trouw("export-schema", "-o", str(target), env=sqlite_env).returncode == 0
    assert trouw("export-schema", "--check", "-o", str(target), env=sqlite_env).returncode == 0
    assert target.read_text() == (REPO / "schema.graphql").read_text()


def test_export_error_codes_check(tmp_path: Path, sqlite_env: dict[str, str]) -> None:
    target = tmp_path / "error-codes.md"
    command = ("export-error-codes", "-o", str(target))
    assert trouw(*command, "--check", env=sqlite_env).returncode == 1
    assert trouw(*command, env=sqlite_env).returncode == 0
    assert trouw(*command, "--check", env=sqlite_env).returncode == 0
    assert target.read_text() == (REPO / "docs" / "error-codes.md").read_text()


def test_jobs_run_once(sqlite_env: dict[str, str]) -> None:
    assert trouw("demo", env=sqlite_env).returncode == 0
    result = trouw("jobs", "run", env=sqlite_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(re.fullmatch(r"[a-z_]+: \d+", line) for line in lines), lines


def test_worker_delivers_until_sigterm(sqlite_env: dict[str, str]) -> None:
    """`trouw worker` (the notification worker and the after-commit reactions) starts, says
    so, and stops cleanly on SIGTERM."""
    assert trouw("migrate", env=sqlite_env).returncode == 0
    proc = subprocess.Popen(
        [*TROUW, "worker"],
        env=sqlite_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "delivering notifications (push: none)" in first, first
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_short_signing_key_is_refused_with_the_reason(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}", TROUW_SECRET_KEY="short")
    result = trouw("migrate", env=env)
    assert result.returncode == 1
    assert "TROUW_SECRET_KEY" in result.stderr and "32 bytes" in result.stderr
