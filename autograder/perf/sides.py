"""The two kinds of :class:`~autograder.perf.measure.Side`: a worker process, or a module in this process.

Graded runs measure two workers of the same kind (submission and reference, each under its own account);
the runner reads their CPU time and placement from /proc (:class:`~autograder.perf.watch.Watch`). A student's
local preview measures their module against the naive baseline shipped with the starter, both imported here,
since there is nothing to protect on their own machine: its clock is this process's CPU time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from autograder.perf.batch import PerfSession
from autograder.perf.watch import Batch, Watch


class WorkerSide:
    """A side whose code runs in a worker (see autograder/isolation/proxy.py).

    A perf test makes many requests, so each one gets the per-test limit of its own (an infinite loop in the
    timed function is caught in seconds, not after the whole perf test's allowance).
    """

    def __init__(self, pool: Any, label: str) -> None:
        self.pool, self.label = pool, label

    def _request(self, op: str, **args: Any) -> Any:
        self.pool.deadline = None  # None: each request gets the pool's per-call limit
        return self.pool.request(op, **args)

    def prepare(self, function: str, inputs: str, size: int, seed: int, device: str, threads: int) -> None:
        self._request("perf_prepare", function=function, inputs=inputs, size=size, seed=seed, device=device,
                      threads=threads)

    def run(self, seed: int, iterations: int) -> list[float]:
        return [float(x) for x in self._request("perf_run", seed=seed, iterations=iterations)]

    def generate(self, seed: int, iterations: int) -> int:
        return int(self._request("perf_generate", seed=seed, iterations=iterations))

    def flops(self, function: str, inputs: str, size: int, seed: int, device: str) -> int:
        return int(self._request("perf_flops", function=function, inputs=inputs, size=size, seed=seed, device=device))

    def pid(self) -> int:
        return self.pool.worker().process.pid

    def place(self, cpus: list[int]) -> list[int]:
        previous = self._request("perf_place", cpus=list(cpus))
        return [int(cpu) for cpu in previous] if isinstance(previous, list) else list(cpus)

    def watch(self, strict: bool) -> Watch:
        return Watch(self.pid(), strict=strict)

    def allocator(self, mode: str) -> None:
        self._request("perf_allocator", mode=mode)

    def cuda_peak_bytes(self) -> int | None:
        value = self._request("perf_cuda_peak")
        return None if value is None else int(value)


class LocalWatch(Watch):
    """The clock of a side in this process: its CPU time. Nothing is checked (nothing to protect here)."""

    HOW = "this thread pinned itself (local preview)"

    def start(self, cpus: list[int]) -> None:
        self.cpus = []

    def batch(self) -> Batch:
        return Batch({0: time.process_time_ns()}, {}, {})

    def end_round(self) -> None:
        pass

    def finish(self) -> dict[str, object]:
        return {"account": "this process (local preview)"}


class LocalSide:
    """A side imported into this process (a student's own machine)."""

    def __init__(self, package: Any, label: str, inputs_dir: Path | None = None) -> None:
        from autograder.kit.process import load_by_path

        import_inputs = (lambda name: load_by_path(name, inputs_dir)) if inputs_dir is not None else None
        self.session = PerfSession(lambda name: getattr(package, name), import_inputs)
        self.label = label

    def prepare(self, function: str, inputs: str, size: int, seed: int, device: str, threads: int) -> None:
        self.session.prepare(function, inputs, size, seed, device, threads)

    def run(self, seed: int, iterations: int) -> list[float]:
        return self.session.run(seed, iterations)

    def generate(self, seed: int, iterations: int) -> int:
        return self.session.generate(seed, iterations)

    def flops(self, function: str, inputs: str, size: int, seed: int, device: str) -> int:
        return self.session.flops(function, inputs, size, seed, device)

    def pid(self) -> int:
        return os.getpid()

    def place(self, cpus: list[int]) -> list[int]:
        """Pin the calling thread (the one that runs both local sides)."""
        previous = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cpus)
        return previous

    def watch(self, strict: bool) -> Watch:
        return LocalWatch(os.getpid(), strict=False)

    def allocator(self, mode: str) -> None:
        self.session.allocator(mode)

    def cuda_peak_bytes(self) -> int | None:
        return self.session.cuda_peak_bytes()
