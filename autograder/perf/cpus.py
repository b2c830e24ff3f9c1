"""Which CPUs the two sides of a comparison run on, and how many CPUs a side may keep busy.

Measured on the 2-vCPU development VM (docs/performance.md, "Why both sides share CPUs"): the host runs the
two vCPUs at different speeds that drift over a second or so. Two workers left to the scheduler settle on
different vCPUs, and the reference compared with itself read 0.56–1.56 per round and 0.75–1.23 per check of
``sgd_step``. Pinned to the same vCPU, so that whatever slows that vCPU slows both sides alike, the same
checks read 0.98–1.06. So every measurement places both workers on the same CPU set for its duration.

Root in a container has no CAP_SYS_NICE and so cannot set the affinity of another account's process; each
worker places itself instead (autograder/perf/batch.py ``place``), and the runner verifies every thread's
placement from /proc (autograder/perf/watch.py) rather than trusting it.

Pinning also bounds parallelism: a threshold is declared for ``threads`` threads, and the submission gets
exactly that many CPUs. Its on-CPU time, which the runner reads itself, also counts every thread, so work
spread over more CPUs costs as much as on one; a submission that keeps more CPUs busy than it was given
still loses the test, with a message that says why.
"""

from __future__ import annotations

import os

CPU_SLACK = 0.25  # busy CPUs above `threads` tolerated; honest single-threaded workers read 0.89-1.03 here


def busy_limit(threads: int) -> float:
    """Most CPUs a side may keep busy on average while timed: ``threads`` and the slack (on-CPU time is read
    in nanoseconds, so no clock-tick allowance is needed)."""
    return threads + CPU_SLACK


def shared_cpus(threads: int, allowed: set[int] | None = None) -> set[int]:
    """The ``threads`` highest-numbered CPUs this process may use (all of them when there are fewer).

    The highest ones, because CPU 0 is where interrupts and housekeeping usually land.
    """
    available = sorted(allowed if allowed is not None else os.sched_getaffinity(0))
    return set(available[-max(1, threads):])
