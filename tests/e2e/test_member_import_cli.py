"""`trouw members import` as an operator runs it, and the progress of the long commands: a bar
on a terminal (a pseudo-terminal here), nothing at all when the output goes to a file or pipe."""

from __future__ import annotations

import os
import pty
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.test_cli_and_serve import REPO, TROUW, environment, trouw
from tests.support.import_files import write_csv

ANSI_ESCAPE = "\x1b["


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    """An installation on SQLite with the demo programme (its tiers and expiry rule)."""
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'trouw.db'}")
    assert trouw("demo", env=env).returncode == 0
    return env


def in_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `trouw ARGS` with a pseudo-terminal as its standard output and error."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*TROUW, *args],
        env={**env, "TERM": "xterm-256color", "COLUMNS": "120"},
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process (Linux: EIO)
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_import_reports_refused_rows_and_exits_1_and_a_rerun_adds_nothing(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    path = write_csv(tmp_path / "m.csv", 30, today, [{"email": "nope", "tier": "platina"}])
    first = trouw("members", "import", str(path), env=demo_env)
    assert first.returncode == 1, first.stderr
    assert first.stderr.splitlines() == [
        "refused line 32: INVALID_EMAIL email: Not a valid email address: An email address "
        "must have an @-sign.; UNKNOWN_TIER tier: no tier 'platina' (known: brons, goud, zilver)"
    ]
    assert "31 rows in" in first.stdout and "rows/s" in first.stdout
    assert "30 members imported, 0 already there, 1 refused" in first.stdout
    # Not a terminal: no progress bar, no escape codes.
    assert ANSI_ESCAPE not in first.stdout + first.stderr
    again = trouw("members", "import", str(path), env=demo_env)
    assert "0 members imported, 30 already there, 1 refused" in again.stdout

    # The first five rows alone: nothing refused, so status 0.
    clean = write_csv(tmp_path / "clean.csv", 5, today)
    ok = trouw("members", "import", str(clean), env=demo_env)
    assert ok.returncode == 0, ok.stderr
    assert "0 members imported, 5 already there, 0 refused" in ok.stdout and ok.stderr == ""


def test_a_file_with_unknown_columns_is_refused_as_a_whole(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "m.csv"
    path.write_text("email,favourite_colour\na@example.com,blue\n")
    result = trouw("members", "import", str(path), env=demo_env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: unknown column favourite_colour")
    assert "Traceback" not in result.stderr


def test_progress_shows_on_a_terminal_only(demo_env: dict[str, str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "m.csv", 20, datetime.now(UTC).date())
    status, output = in_terminal(["members", "import", str(path), "--chunk-size", "5"], demo_env)
    assert status == 0, output
    assert "importing members" in output and ANSI_ESCAPE in output
    assert "20 members imported" in output

    status, output = in_terminal(["jobs", "run"], demo_env)
    assert status == 0 and "running the scheduled jobs" in output, output
    piped = trouw("jobs", "run", env=demo_env)
    assert piped.returncode == 0 and "running the scheduled jobs" not in piped.stdout
    assert ANSI_ESCAPE not in piped.stdout + piped.stderr and piped.stderr == ""
