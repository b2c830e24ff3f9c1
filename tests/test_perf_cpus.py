"""What the runner reads from /proc about a measured process: on-CPU time, other processes, placement, work
in threads that ended (autograder/perf/watch.py), and which CPUs the two sides share (autograder/perf/cpus.py).

The measured processes here are small Python children of the test, in sessions of their own (the test runs as
one user, so a child's session stands for "its account", as on a machine without grading accounts).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Iterator

import pytest

from autograder.perf import cpus, watch

# Spins for {s} seconds of the calling thread's own CPU time (not wall time: the machine may be busy).
SPIN = "import time\nend = time.thread_time() + {s}\nwhile time.thread_time() < end: pass\n"


def child(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True, text=True, **kwargs)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    process = child("import time; time.sleep(60)")
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_shared_cpus_are_the_highest_numbered_ones() -> None:
    assert cpus.shared_cpus(1, {0, 1, 2, 3}) == {3}
    assert cpus.shared_cpus(2, {0, 5, 7}) == {5, 7}
    assert cpus.shared_cpus(8, {0, 1}) == {0, 1}  # asks for more than there are: all of them
    assert cpus.shared_cpus(0, {0, 1}) == {1}     # at least one


def test_busy_limit_allows_threads_plus_slack() -> None:
    assert cpus.busy_limit(1) == pytest.approx(1 + cpus.CPU_SLACK)
    assert cpus.busy_limit(2) > cpus.busy_limit(1)


def test_cpu_list_is_the_kernels_format() -> None:
    assert watch.cpu_list([3]) == "3"
    assert watch.cpu_list([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"


def test_on_cpu_time_counts_busy_time_not_sleep(sleeper: subprocess.Popen) -> None:
    busy = child("import sys, time\nsys.stdin.readline()\n" + SPIN.format(s=0.2) + "print('done', flush=True)\n"
                 "time.sleep(60)\n", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        time.sleep(0.3)
        start_busy, start_idle = sum(watch.on_cpu_ns(busy.pid).values()), sum(watch.on_cpu_ns(sleeper.pid).values())
        busy.stdin.write("go\n")
        busy.stdin.flush()
        assert busy.stdout.readline().strip() == "done"
        end_busy, end_idle = sum(watch.on_cpu_ns(busy.pid).values()), sum(watch.on_cpu_ns(sleeper.pid).values())
    finally:
        busy.kill()
        busy.wait()
    assert 0.2e9 <= end_busy - start_busy < 0.3e9  # its 0.2 s of spinning, however long it waited for a CPU
    assert end_idle - start_idle < 0.01e9  # sleeping costs nothing
    assert watch.on_cpu_ns(2**22 + 12345) == {}  # no such process


def test_a_second_process_of_the_account_is_refused() -> None:
    """A helper forked by the measured process (here: in its session) makes the measurement refuse."""
    parent = child("import os, time\nif os.fork() == 0:\n    time.sleep(60)\ntime.sleep(60)\n")
    try:
        time.sleep(0.5)
        assert len(watch.account_processes(os.getuid(), session=parent.pid)) == 2
        with pytest.raises(watch.Refused, match="Another process of your code"):
            watch.Watch(parent.pid).start([])
    finally:
        os.killpg(parent.pid, 9)
        parent.wait()


def test_a_helper_that_ends_between_readings_is_still_seen() -> None:
    """Forked and gone within a round: it stays behind as a zombie (the runner is a subreaper) and is seen."""
    parent = child("import os, sys, time\nsys.stdin.readline()\nif os.fork() == 0:\n"
                   "    if os.fork() == 0:\n        os._exit(0)\n    os._exit(0)\nos.wait()\ntime.sleep(60)\n",
                   stdin=subprocess.PIPE)
    try:
        observer = watch.Watch(parent.pid)
        observer.start([])
        parent.stdin.write("go\n")
        parent.stdin.flush()
        time.sleep(0.5)
        with pytest.raises(watch.Refused, match="Another process of your code"):
            observer.end_round()
    finally:
        os.killpg(parent.pid, 9)
        parent.wait()
        for _ in range(5):  # reap the orphan that came to us
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break


def test_work_in_a_thread_that_ended_is_refused() -> None:
    code = ("import sys, threading, time\nsys.stdin.readline()\n"
            "t = threading.Thread(target=lambda: exec(" + repr(SPIN.format(s=0.3)) + "))\nt.start(); t.join()\n"
            "print('done', flush=True)\ntime.sleep(60)\n")
    process = child(code, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        observer = watch.Watch(process.pid)
        observer.start([])
        before = observer.batch()
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "done"
        deadline = time.monotonic() + 10  # join() returns before the kernel drops the task from /proc: wait for it
        while len(os.listdir(f"/proc/{process.pid}/task")) > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        after = observer.batch()
        assert observer.elapsed_ns(before, after) < 0.1e9  # the thread's time is gone from the live threads
        with pytest.raises(watch.Refused, match="threads that ended"):
            observer.finish()
    finally:
        os.killpg(process.pid, 9)
        process.wait()


def test_work_on_a_live_thread_is_counted_and_accepted() -> None:
    process = child("import sys, time\nsys.stdin.readline()\n" + SPIN.format(s=0.3) + "print('done', flush=True)\n"
                    "time.sleep(60)\n", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        observer = watch.Watch(process.pid)
        observer.start([])
        before = observer.batch()
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "done"
        assert observer.elapsed_ns(before, observer.batch()) > 0.1e9
        record = observer.finish()
        assert record["children_ms"] == 0
    finally:
        os.killpg(process.pid, 9)
        process.wait()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to move between")
def test_a_process_that_places_itself_is_verified_and_a_move_is_seen() -> None:
    """The process places itself (no privilege needed over another account's process); the runner checks the
    placement and sees a move to another CPU and back during a batch."""
    checked = max(os.sched_getaffinity(0))
    code = (f"import os, sys, time\nos.sched_setaffinity(0, {{{checked}}})\nprint('placed', flush=True)\n"
            "sys.stdin.readline()\nhere = os.sched_getaffinity(0)\n"
            f"os.sched_setaffinity(0, set(range(os.cpu_count())) - {{{checked}}})\n" + SPIN.format(s=0.05) +
            "os.sched_setaffinity(0, here)\nprint('done', flush=True)\ntime.sleep(60)\n")
    process = child(code, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert process.stdout.readline().strip() == "placed"
        observer = watch.Watch(process.pid)
        observer.start([checked])
        before = observer.batch()
        assert observer.check_placement(before, before) is None  # placed where it was asked
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "done"
        problem = observer.check_placement(before, observer.batch())
        assert problem is not None and "moved between CPUs" in problem
    finally:
        os.killpg(process.pid, 9)
        process.wait()
