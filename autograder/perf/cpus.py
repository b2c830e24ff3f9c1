"""Which CPUs the two sides of a comparison run on, and how much CPU time the submission used.

Measured on the 2-vCPU development VM (docs/performance.md, "Why both sides share CPUs"): the host runs the
two vCPUs at different speeds that drift over a second or so. Two workers left to the scheduler settle on
different vCPUs, and the reference compared with itself read 0.56–1.56 per round and 0.75–1.23 per check of
``sgd_step``. Pinned to the same vCPU, so that whatever slows that vCPU slows both sides alike, the same
checks read 0.98–1.06. So every time measurement pins both workers to the same CPU set for its duration and
puts their old affinity back afterwards.

Pinning also bounds parallelism: a threshold is declared for ``threads`` threads, and the submission gets
exactly that many CPUs. A submission can widen its own affinity again (same account), so the runner also
reads the worker's CPU time from /proc, which the worker cannot fake, and a submission that kept more CPUs
busy than it was given loses the test.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from typing import Iterator

CPU_SLACK = 0.25  # busy CPUs above `threads` tolerated; honest single-threaded workers read 0.89-1.03 here


def busy_limit(threads: int, batches: int, wall_s: float) -> float:
    """Most CPUs a side may keep busy on average: ``threads``, the slack, and the clock-tick error of reading
    CPU time before and after each of ``batches`` batches (about one tick per batch, adding up like noise)."""
    tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
    return threads + CPU_SLACK + math.sqrt(batches) * tick_s / wall_s


def shared_cpus(threads: int, allowed: set[int] | None = None) -> set[int]:
    """The ``threads`` highest-numbered CPUs this process may use (all of them when there are fewer).

    The highest ones, because CPU 0 is where interrupts and housekeeping usually land.
    """
    available = sorted(allowed if allowed is not None else os.sched_getaffinity(0))
    return set(available[-max(1, threads):])


def _tasks(pid: int) -> list[int]:
    """Thread ids to pin: every thread of a worker; only the calling thread of this process (a local side)."""
    if pid == os.getpid():
        return [threading.get_native_id()]
    try:
        return [int(task) for task in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def pinned_together(pids: list[int], threads: int) -> Iterator[dict[str, object]]:
    """Pin every thread of ``pids`` to the same ``threads`` CPUs; yield what was done, for the audit trail.

    Threads started later inherit the pin. Without permission (another account's process and no root) the
    measurement goes on unpinned, and the record says so.
    """
    cpus = shared_cpus(threads)
    record: dict[str, object] = {"cpus": sorted(cpus), "pinned": True}
    previous: dict[int, set[int]] = {}
    try:
        for pid in dict.fromkeys(pids):
            for task in _tasks(pid):
                try:
                    previous[task] = os.sched_getaffinity(task)
                    os.sched_setaffinity(task, cpus)
                except ProcessLookupError:
                    continue
    except OSError as exc:
        record.update(pinned=False, reason=f"{type(exc).__name__}: {exc.strerror or exc}")
    try:
        yield record
    finally:
        for task, mask in previous.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(task, mask)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` and its reaped children, from /proc (None when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # after the command name: state is field 0, utime 11, stime 12, cutime 13, cstime 14 (proc(5))
    ticks = sum(int(fields[index]) for index in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")
