"""CPU time a server process (and the workers it started) spends while the load generator
runs, and what the load generator (this process) spends: on a machine shared with other work,
CPU per request varies less than the rate does."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def listening_on(port: int) -> int:
    """The server process started with `port` on its command line."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(port).encode() in words and words[0] != b"":
                return int(entry.name)
    raise LookupError(f"no process serves port {port}")


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its live descendants."""
    stats = {int(p.name): _stat(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found, total, queue = {root}, 0.0, [root]
    while queue:
        pid = queue.pop()
        stat = stats.get(pid)
        total += stat[1] if stat else 0.0
        for child, other in stats.items():
            if other and other[0] == pid and child not in found:
                found.add(child)
                queue.append(child)
    return total


@contextmanager
def measuring(port: int, after: float) -> Iterator[list[float]]:
    """CPU seconds the server on `port` and this process spend from `after` seconds on until
    the block ends (the load generator's warm-up is left out); the list holds the two figures
    afterwards."""
    root = listening_on(port)
    start: list[float] = []
    timer = threading.Timer(after, lambda: start.extend((tree_cpu(root), time.process_time())))
    timer.start()
    spent: list[float] = []
    try:
        yield spent
    finally:
        timer.cancel()
        if start:
            spent.extend((tree_cpu(root) - start[0], time.process_time() - start[1]))


def per_request(spent: list[float], requests: int) -> tuple[float, float]:
    """Milliseconds of CPU per request: the server's, the load generator's."""
    if len(spent) < 2 or not requests:
        return float("nan"), float("nan")
    return 1000 * spent[0] / requests, 1000 * spent[1] / requests
