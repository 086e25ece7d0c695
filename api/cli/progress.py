"""Progress bars for the long commands (imports, the demo data, the scheduled jobs), drawn by
rich on standard error, and only when standard error is a terminal: a command run from a
script, a container or CI writes no progress at all, only its results."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Advance = Callable[[int], None]


def on_terminal() -> bool:
    return sys.stderr.isatty()


def _nothing(_: int) -> None:
    return None


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Advance]:
    """A bar (a spinner when `total` is unknown) that the caller advances by a count of done
    items; nothing is drawn when standard error is not a terminal."""
    if not on_terminal():
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(done: int) -> None:
            bar.advance(task, done)

        yield advance
