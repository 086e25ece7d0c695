"""Start-up as an operator meets it: every bad setting, a busy port, an unreachable or
unmigrated database gives one clear line and its documented exit status, never a traceback
after "Trouw is serving"."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli import COMMANDS, load_command, main
from api.cli.startup import ExitStatus, unknown_variables
from tests.e2e.test_cli_and_serve import environment, trouw
from tests.support.server import free_port

BAD_SETTINGS = {
    "TROUW_WEBHOOKS": '[{"url": "https://crm.example/hooks"}]',
    "TROUW_REDIS_URL": "notaurl",
    "TROUW_LOG_LEVEL": "loud",
    "TROUW_QUIET_HOURS_START": "25:00",
    "TROUW_WORKER_LEASE_SECONDS": "1",
    "TROUW_APNS_PRIVATE_KEY_FILE": "/nowhere/AuthKey.p8",
}


def serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return trouw("serve", "--port", str(free_port()), *args, env=env, timeout=30)


def assert_refused(result: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert "is serving" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1, result.stderr
    assert all(word in errors[0] for word in words), errors[0]


@pytest.mark.parametrize("variable", sorted(BAD_SETTINGS))
def test_each_bad_setting_is_one_line_naming_the_variable(variable: str, tmp_path: Path) -> None:
    env = environment(
        f"sqlite+aiosqlite:///{tmp_path / 't.db'}", **{variable: BAD_SETTINGS[variable]}
    )
    assert_refused(serve(env), ExitStatus.FAILED, variable)
    # `migrate` no longer lets them through to fail later.
    assert_refused(trouw("migrate", env=env), ExitStatus.FAILED, variable)


def test_several_bad_settings_give_a_line_each(tmp_path: Path) -> None:
    env = environment(
        f"sqlite+aiosqlite:///{tmp_path / 't.db'}",
        TROUW_LOG_LEVEL="loud",
        TROUW_QUIET_HOURS_END="8am",
    )
    result = trouw("migrate", env=env)
    assert result.returncode == ExitStatus.FAILED
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert {line.split(": ")[-2] for line in lines} == {"TROUW_LOG_LEVEL", "TROUW_QUIET_HOURS_END"}


def test_a_busy_port_is_refused_before_serving(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = trouw("serve", "--port", str(port), env=env, timeout=30)
    assert_refused(result, ExitStatus.PORT, f"127.0.0.1:{port}", "in use")


def test_an_unreachable_database_is_one_line() -> None:
    env = environment(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/trouw")
    assert_refused(serve(env), ExitStatus.DATABASE, "database error")
    assert_refused(trouw("migrate", env=env), ExitStatus.DATABASE, "database error")


def test_an_unmigrated_database_is_refused_before_serving(unmigrated_postgres: str) -> None:
    result = serve(environment(unmigrated_postgres))
    assert_refused(result, ExitStatus.DATABASE, "trouw migrate")


def test_a_misspelled_variable_is_warned_about_with_the_likely_name(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", TROUW_DATABSE_URL="x")
    result = trouw("migrate", env=env)
    assert result.returncode == 0, result.stderr
    assert (
        "warning: TROUW_DATABSE_URL is not a Trouw setting and is ignored "
        "(did you mean TROUW_DATABASE_URL?)" in result.stderr
    )
    assert unknown_variables({"TROUW_TEST_REDIS_URL": "x", "TROUW_LOG_LEVEL": "info"}) == []
    assert unknown_variables({"TROUW_ZZZ": "x"}) == [
        "warning: TROUW_ZZZ is not a Trouw setting and is ignored"
    ]


def test_version_and_help_without_loading_the_commands(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    version = trouw("--version", env=env)
    assert version.returncode == 0 and re.fullmatch(
        r"trouw, version \d+\.\d+\.\d+\n", version.stdout
    )
    # `--help` imports no command module (the application), which is what made it slow.
    probe = (
        "import sys, click.testing, api.cli as c; "
        "r = click.testing.CliRunner().invoke(c.main, ['--help']); "
        "print(r.exit_code, sorted(m for m in sys.modules if m.startswith(('api.', 'loyalty'))))"
    )
    listed = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert listed.stdout.strip() == "0 ['api.cli']", listed.stdout + listed.stderr


def test_help_lists_every_command_with_its_own_first_sentence() -> None:
    for name in COMMANDS:
        command = load_command(name)
        first = re.split(r"(?<=\.)\s", " ".join((command.help or "").split()))[0]
        assert COMMANDS[name].summary == first, name
        assert main.get_command(None, name) is command  # type: ignore[arg-type]
