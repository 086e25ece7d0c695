"""Run a module under cProfile, profiling only between SIGUSR1 and SIGUSR2 (a bench phase).

    python -m bench.profiled OUT.prof -m api.cli serve ...

SIGUSR1 starts (or resumes) the profile; SIGUSR2 pauses it, writes OUT.prof and prints the
time the garbage collector took meanwhile to stderr. The bench
sends them around the phase it times, so the profile shows that phase alone rather than the
minutes spent connecting.
"""

from __future__ import annotations

import cProfile
import gc
import runpy
import signal
import sys
import time
from types import FrameType


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m bench.profiled OUT.prof -m MODULE [ARGS...]")
    # CPU time of the thread the profile runs in (the event loop), not wall time: the
    # database threads and other processes would otherwise be charged to whatever the loop
    # was doing while they held the CPU or the GIL.
    profile = cProfile.Profile(time.thread_time)

    def start(_signum: int, _frame: FrameType | None) -> None:
        collecting.update(spent=0.0, runs=[0, 0, 0])
        profile.enable()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        profile.disable()
        profile.dump_stats(out)
        print(
            f"garbage collection while profiled: {collecting['spent']:.3f} s CPU, "
            f"collections by generation {collecting['runs']}",
            file=sys.stderr,
        )

    collecting = {"since": 0.0, "spent": 0.0, "runs": [0, 0, 0]}

    def collected(phase: str, info: dict[str, int]) -> None:
        # The garbage collector's own time, which the profile does not show.
        if phase == "start":
            collecting["since"] = time.thread_time()
        else:
            collecting["spent"] += time.thread_time() - collecting["since"]
            collecting["runs"][info["generation"]] += 1

    gc.callbacks.append(collected)
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
