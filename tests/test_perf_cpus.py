"""Both sides of a comparison share CPUs, and the runner reads how many CPUs the submission kept busy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Iterator

import pytest

from autograder.perf import cpus


@pytest.fixture
def child() -> Iterator[subprocess.Popen]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
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


def test_pinned_together_pins_every_side_then_restores(child: subprocess.Popen) -> None:
    before_child, before_self = os.sched_getaffinity(child.pid), os.sched_getaffinity(0)
    with cpus.pinned_together([child.pid, os.getpid()], threads=1) as record:
        assert record["pinned"] is True
        expected = set(record["cpus"])  # type: ignore[arg-type]
        assert len(expected) == 1
        assert os.sched_getaffinity(child.pid) == expected
        assert os.sched_getaffinity(0) == expected  # a side in this process: the calling thread
    assert os.sched_getaffinity(child.pid) == before_child
    assert os.sched_getaffinity(0) == before_self


def test_pinned_together_goes_on_when_a_side_has_exited(child: subprocess.Popen) -> None:
    child.kill()
    child.wait()
    with cpus.pinned_together([child.pid], threads=1) as record:
        assert record["cpus"]  # nothing to pin, no error


def test_cpu_seconds_counts_busy_time_not_sleep(child: subprocess.Popen) -> None:
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 0.6\nwhile time.time() < end: pass"])
    try:
        start_busy, start_idle = cpus.cpu_seconds(busy.pid), cpus.cpu_seconds(child.pid)
        time.sleep(0.4)
        end_busy, end_idle = cpus.cpu_seconds(busy.pid), cpus.cpu_seconds(child.pid)
    finally:
        busy.wait()
    assert start_busy is not None and end_busy is not None and start_idle is not None and end_idle is not None
    assert end_busy - start_busy > 0.15   # it spun for most of the 0.4 s (2 noisy cores: leave room)
    assert end_idle - start_idle < 0.05  # sleeping costs nothing
    assert cpus.cpu_seconds(2**22 + 12345) is None  # no such process


def test_busy_limit_allows_threads_plus_slack_and_clock_ticks() -> None:
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    assert cpus.busy_limit(1, 16, 1.0) == pytest.approx(1 + cpus.CPU_SLACK + 4 * tick)
    assert cpus.busy_limit(1, 16, 0.1) > cpus.busy_limit(1, 16, 1.0)  # short measurements: more room
    assert cpus.busy_limit(1, 100, 10.0) < 1.5  # a long one catches a second busy core
