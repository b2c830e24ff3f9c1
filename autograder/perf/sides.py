"""The two kinds of :class:`~autograder.perf.measure.Side`: a worker process, or a module in this process.

Graded runs measure two workers of the same kind (submission and reference, each under its own account);
a student's local preview measures their module against the naive baseline shipped with the starter, both
imported here, since there is nothing to protect on their own machine.
"""

from __future__ import annotations

import os
from typing import Any

from autograder.perf import cpus
from autograder.perf.batch import PerfSession


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

    def prepare(self, function: str, inputs: str, size: int, seed: int, iterations: int, device: str, threads: int) -> int:
        return int(self._request("perf_prepare", function=function, inputs=inputs, size=size, seed=seed,
                                 iterations=iterations, device=device, threads=threads))

    def run(self) -> list[float]:
        return list(self._request("perf_run"))

    def flops(self, function: str, inputs: str, size: int, seed: int, device: str) -> int:
        return int(self._request("perf_flops", function=function, inputs=inputs, size=size, seed=seed, device=device))

    def pid(self) -> int:
        return self.pool.worker().process.pid

    def allocator(self, mode: str) -> None:
        self._request("perf_allocator", mode=mode)

    def cpu_seconds(self) -> float | None:
        return cpus.cpu_seconds(self.pid())

    def cuda_peak_bytes(self) -> int | None:
        return self._request("perf_cuda_peak")


class LocalSide:
    """A side imported into this process (a student's own machine)."""

    def __init__(self, package: Any, label: str) -> None:
        self.session = PerfSession(lambda name: getattr(package, name))
        self.label = label

    def prepare(self, function: str, inputs: str, size: int, seed: int, iterations: int, device: str, threads: int) -> int:
        return self.session.prepare(function, inputs, size, seed, iterations, device, threads)

    def run(self) -> list[float]:
        return self.session.run()

    def flops(self, function: str, inputs: str, size: int, seed: int, device: str) -> int:
        return self.session.flops(function, inputs, size, seed, device)

    def pid(self) -> int:
        return os.getpid()

    def allocator(self, mode: str) -> None:
        self.session.allocator(mode)

    def cpu_seconds(self) -> float | None:
        return None  # this process also runs the tests: its CPU time says nothing about the side

    def cuda_peak_bytes(self) -> int | None:
        return self.session.cuda_peak_bytes()
