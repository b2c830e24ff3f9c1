"""What the runner reads from /proc about a worker during a perf check: CPU time, placement, other processes.

Nothing the student's process says about itself is trusted, so the runner reads, from outside:

- **on-CPU time**: nanoseconds per thread from ``/proc/PID/task/TID/schedstat`` (world-readable; the kernel
  counts only time on a CPU, so time throttled by a CFS quota or taken by a neighbour is left out). A batch's
  time is the sum over the worker's threads; a batch may not use the CPU while the other side is timed.
- **the account's other processes**: every process whose real uid is the worker's (zombies included), read
  from ``/proc/*/status`` at the start and end of every round. None may exist besides the worker: a helper
  process could do part of the work where the worker's clock does not see it. The runner makes itself a child
  subreaper, so a helper that forks away and exits between two readings stays behind as a zombie here instead
  of vanishing into init.
- **work that left no thread behind**: the worker's whole-process CPU time (``/proc/PID/stat``, ticks,
  counting threads that have ended) must match the sum over the threads seen, and its reaped children's CPU
  time must not grow.
- **placement**: every thread's ``Cpus_allowed_list`` (``/proc/PID/task/TID/status``) must be the CPUs the
  check gave it, before and after each batch, and with one CPU, its ``se.nr_migrations``
  (``/proc/PID/task/TID/sched``) must not change during a batch: a call that moves itself to another CPU and
  back is a migration out and one in.

Without root the worker runs as the grader's own user; then the worker's session stands for its account
(a student's own machine: nothing to protect there, see autograder/perf/sides.py).
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field

PR_SET_CHILD_SUBREAPER = 36
TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


class Refused(Exception):
    """What the runner saw makes the submission's measurement meaningless; the message is for the student."""


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:  # gone (or never there): the caller decides what that means
        return None


def _status_field(text: str, name: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def tasks(pid: int) -> list[int]:
    try:
        return [int(task) for task in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def task_ns(pid: int, tid: int) -> int | None:
    """On-CPU nanoseconds of one thread (first field of schedstat; a kernel without it: utime + stime from
    the thread's stat, in clock ticks, which is too coarse to time a batch, see :func:`precise`)."""
    text = _read(f"/proc/{pid}/task/{tid}/schedstat")
    if text:
        return int(text.split()[0])
    text = _read(f"/proc/{pid}/task/{tid}/stat")
    if not text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_NS


def precise() -> bool:
    """Whether this kernel exposes per-thread on-CPU nanoseconds (``CONFIG_SCHED_INFO``)."""
    return os.path.exists(f"/proc/self/task/{os.getpid()}/schedstat")


def on_cpu_ns(pid: int) -> dict[int, int]:
    """On-CPU nanoseconds of every live thread of ``pid``."""
    result = {}
    for tid in tasks(pid):
        ns = task_ns(pid, tid)
        if ns is not None:
            result[tid] = ns
    return result


def process_ticks(pid: int) -> tuple[int, int] | None:
    """(utime + stime, cutime + cstime) of ``pid`` in clock ticks: the first counts threads that have ended,
    the second children the process has reaped."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name: state is field 0 (proc(5))
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def session_of(pid: int) -> int | None:
    text = _read(f"/proc/{pid}/stat")
    return int(text.rsplit(")", 1)[1].split()[3]) if text else None


def uid_of(pid: int) -> int | None:
    text = _read(f"/proc/{pid}/status")
    uid = _status_field(text, "Uid") if text else None
    return int(uid.split()[0]) if uid else None


def account_processes(uid: int, session: int | None = None) -> list[int]:
    """Every process (zombies included) whose real uid is ``uid``; with ``session``, those of that session.

    The uid comes from ``status``, not from the owner of /proc/PID, which a process can make root's by
    declaring itself non-dumpable.
    """
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as handle:
                head = handle.read(1024)
        except OSError:
            continue
        at = head.find(b"\nUid:")
        if at < 0 or int(head[at + 5:at + 40].split()[0]) != uid:
            continue
        pid = int(entry.name)
        if session is None or session_of(pid) == session:
            found.append(pid)
    return found


def cpus_allowed(pid: int, tid: int) -> str | None:
    text = _read(f"/proc/{pid}/task/{tid}/status")
    return _status_field(text, "Cpus_allowed_list") if text else None


def migrations(pid: int, tid: int) -> int | None:
    text = _read(f"/proc/{pid}/task/{tid}/sched")
    for line in (text or "").splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "se.nr_migrations":
            return int(value)
    return None


def cpu_list(cpus: list[int]) -> str:
    """The kernel's list format (``0-2,5``) for a set of CPUs."""
    ranges, ordered = [], sorted(set(cpus))
    start = previous = ordered[0]
    for cpu in ordered[1:] + [None]:  # type: ignore[list-item]
        if cpu is not None and cpu == previous + 1:
            previous = cpu
            continue
        ranges.append(f"{start}-{previous}" if previous != start else str(start))
        if cpu is not None:
            start = previous = cpu
    return ",".join(ranges)


def become_subreaper() -> bool:
    """Orphans of our workers' processes become our children (zombies we can see) rather than init's."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


@dataclass
class Batch:
    """A worker's threads at one instant: CPU time, placement, migrations."""

    ns: dict[int, int]
    masks: dict[int, str | None]
    moves: dict[int, int | None]


@dataclass
class Watch:
    """The runner's view of one side's worker for the length of one check (see the module docstring)."""

    HOW = "the worker placed itself; the runner read every thread's Cpus_allowed_list and migrations from /proc"

    pid: int
    strict: bool = True                 # the submission: refuse what looks wrong; the reference: record it
    cpus: list[int] = field(default_factory=list)
    uid: int | None = None
    session: int | None = None
    first: dict[int, int] = field(default_factory=dict)   # thread -> on-CPU ns when first seen
    last: dict[int, int] = field(default_factory=dict)    # thread -> on-CPU ns when last seen
    start_ticks: tuple[int, int] | None = None
    zombies: set[int] = field(default_factory=set)
    subreaper: bool = False

    def start(self, cpus: list[int]) -> None:
        """Take the baseline; refuse if another process of the account is there (zombies from before are
        remembered, not blamed: they hold no CPU)."""
        self.cpus = sorted(cpus)
        self.subreaper = become_subreaper()
        self.uid = uid_of(self.pid)
        if self.uid is None:
            raise Refused("Your code's process ended before its speed could be measured.")
        self.session = session_of(self.pid) if self.uid == os.geteuid() else None
        self.start_ticks = process_ticks(self.pid)
        self.zombies = {pid for pid in self._others() if _is_zombie(pid)}
        self._check_alone()
        for tid, ns in on_cpu_ns(self.pid).items():
            self.first[tid] = self.last[tid] = ns

    def _others(self) -> list[int]:
        if self.uid is None:
            return []
        return [pid for pid in account_processes(self.uid, self.session) if pid != self.pid]

    def _check_alone(self) -> None:
        others = [pid for pid in self._others() if pid not in self.zombies]
        if others and self.strict:
            raise Refused(
                f"Another process of your code was running ({len(others)} besides the one being measured), so "
                "its speed cannot be measured fairly: work done there is not counted. Don't start processes "
                "(multiprocessing, subprocess, os.fork) that outlive the function that started them, or at "
                "import; the reference runs as a single process.")

    def batch(self) -> Batch:
        """Read every thread of the worker now (cheap: a few files per thread)."""
        ns = on_cpu_ns(self.pid)
        if not ns:
            raise Refused("Your code's process ended while its speed was being measured.")
        for tid, value in ns.items():
            self.first.setdefault(tid, 0)  # a thread born during the check: all its time is the check's
            self.last[tid] = value
        if not self.cpus:
            return Batch(ns, {}, {})
        return Batch(ns, {tid: cpus_allowed(self.pid, tid) for tid in ns},
                     {tid: migrations(self.pid, tid) for tid in ns})

    def elapsed_ns(self, before: Batch, after: Batch) -> int:
        """On-CPU time between two readings, summed over the threads (new ones count from zero)."""
        return sum(value - before.ns.get(tid, 0) for tid, value in after.ns.items())

    def check_placement(self, before: Batch, after: Batch) -> str | None:
        """None if every thread stayed on the check's CPUs through the batch; else what was seen."""
        wanted = cpu_list(self.cpus) if self.cpus else None
        if wanted is None:
            return None
        for reading in (before, after):
            for tid, mask in reading.masks.items():
                if mask is not None and mask != wanted:
                    return f"thread {tid} was allowed CPUs {mask}, not {wanted}"
        if len(self.cpus) == 1:
            for tid, moves in after.moves.items():
                if moves is not None and before.moves.get(tid) is not None and moves != before.moves[tid]:
                    return f"thread {tid} moved between CPUs {moves - before.moves[tid]} time(s) during the batch"
        return None

    def end_round(self) -> None:
        """Between rounds: no other process may have appeared (alive or already a zombie), and no CPU time
        may have gone missing so far (checked again, with a final reading, by :meth:`finish`)."""
        self._check_alone()
        if self.strict:
            self.batch()  # every live thread's count, now
            self._hidden(refuse=True)

    def finish(self) -> dict[str, object]:
        """Compare the worker's whole-process CPU time with what its threads showed; return the record."""
        if on_cpu_ns(self.pid):
            self.batch()  # brings every live thread's count up to date
        record: dict[str, object] = {"subreaper": self.subreaper,
                                     "account": "its own" if self.session is None else "shared with the grader: its session"}
        record.update(self._hidden(refuse=self.strict))
        return record

    def _hidden(self, refuse: bool) -> dict[str, object]:
        """CPU time the worker used where its live threads do not show it: in threads that ended, or in
        children it reaped (clock ticks from /proc/PID/stat against the per-thread nanoseconds seen)."""
        end = process_ticks(self.pid)
        if self.start_ticks is None or end is None:
            return {}
        seen_ns = sum(self.last[tid] - self.first.get(tid, 0) for tid in self.last)
        hidden_ns = (end[0] - self.start_ticks[0]) * TICK_NS - seen_ns
        children_ns = (end[1] - self.start_ticks[1]) * TICK_NS
        if refuse and children_ns > 0:
            raise Refused("Your code ran work in child processes while it was measured, where its time is not "
                          "counted. Don't start processes in code that is timed; the reference runs as one process.")
        if refuse and hidden_ns > 3 * TICK_NS + 0.05 * seen_ns:
            raise Refused(
                f"Your code used {hidden_ns / 1e6:.0f} ms of CPU in threads that ended before the grader could "
                "read them, so its time cannot be measured. Don't start threads in timed code; the reference "
                "runs on one thread.")
        return {"hidden_ms": round(hidden_ns / 1e6, 1), "children_ms": round(children_ns / 1e6, 1)}


def _is_zombie(pid: int) -> bool:
    text = _read(f"/proc/{pid}/stat")
    return bool(text) and text.rsplit(")", 1)[1].split()[0] in ("Z", "X")
