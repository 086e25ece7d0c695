"""What every command checks before it starts anything: the settings (each problem on a line
of its own, naming the variable), unknown `TROUW_*` variables, the database and the port.
A failed check exits with the status `docs/operations.md` documents, and no traceback."""

from __future__ import annotations

import difflib
import errno
import os
import socket
from enum import IntEnum

import click
from pydantic import ValidationError

from api.settings import Settings

# Variables of the test suite and the benchmarks, not of a running installation.
_NOT_SETTINGS = ("TROUW_TEST_", "TROUW_BENCH_", "TROUW_CONTRACT_DIR")


class ExitStatus(IntEnum):
    """How a command ends when it cannot start (click uses 2 for a wrong command line)."""

    FAILED = 1  # a bad setting, or the work itself failed
    DATABASE = 3  # the database cannot be reached, or its schema is not up to date
    PORT = 4  # the address to serve on is taken or cannot be used


class StartupError(click.ClickException):
    def __init__(self, message: str, status: ExitStatus = ExitStatus.FAILED) -> None:
        super().__init__(message)
        self.status = status

    # click reads the status to exit with from here.
    @property
    def exit_code(self) -> int:  # type: ignore[override]
        return int(self.status)


def load_settings() -> Settings:
    """The settings, or a `StartupError` listing every bad variable on a line of its own."""
    warn_unknown_variables(os.environ)
    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"bad configuration: {_problem(error)}" for error in exc.errors()]
        raise StartupError("\n".join(lines)) from None


def _problem(error: object) -> str:
    assert isinstance(error, dict)
    message = str(error["msg"]).removeprefix("Value error, ")
    location = "_".join(str(part) for part in error["loc"] if isinstance(part, str))
    # Errors of the settings as a whole name their variables in the message itself.
    return f"TROUW_{location.upper()}: {message}" if location else message


def unknown_variables(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """A warning for each `TROUW_*` variable that is no setting, with the closest one."""
    known = [f"TROUW_{name.upper()}" for name in Settings.model_fields]
    warnings: list[str] = []
    for name in sorted(environ):
        if not name.startswith("TROUW_") or name in known or name.startswith(_NOT_SETTINGS):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"warning: {name} is not a Trouw setting and is ignored{hint}")
    return warnings


def warn_unknown_variables(environ: dict[str, str] | os._Environ[str]) -> None:
    for warning in unknown_variables(environ):
        click.echo(warning, err=True)


def check_wallet_settings(settings: Settings) -> None:
    """The wallet's certificates and keys, checked before anything starts (docs/wallet.md)."""
    from api.wallet.setup import check_wallet
    from loyalty.core.clock import SystemClock
    from wallet.credentials import WalletConfigError

    try:
        check_wallet(settings, SystemClock())
    except WalletConfigError as exc:
        raise StartupError(f"bad wallet configuration: {exc}") from None


def check_port(host: str, port: int) -> None:
    """Refuse to start when the address is taken, before anything says it is serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"({exc.strerror})"
            raise StartupError(
                f"cannot serve on {host}:{port}: the address {reason}; choose another "
                "with --host/--port or stop what listens there",
                ExitStatus.PORT,
            ) from None


def database_problem(exc: BaseException) -> StartupError:
    """One line for a database that cannot be reached (drivers' messages span several)."""
    cause = getattr(exc, "orig", None) or exc
    first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return StartupError(f"database error: {first_line}", ExitStatus.DATABASE)
