"""Worker side of a performance measurement: build the model, then generate, run and digest one timed batch.

Nothing this side says about its own timing is trusted: the runner reads the worker's on-CPU time from /proc
around each request (autograder/perf/watch.py), and nothing here could fake it. What this side could do is
work ahead in an untimed request, so the timed request carries what it needs and nothing else does:

- ``prepare(..., seed)`` (untimed) builds what lasts for a batch, typically a model, by calling the input
  generator once with a generator seeded by ``seed`` and keeping its ``cache``;
- ``run(seed, iterations)`` (timed) draws the batch's data from a *second* seed that the runner picks from
  the OS's randomness and sends only in this request, calls the function on every input and, before
  replying, folds every output into a digest that the runner compares with the reference's on the same
  seed. A digest computed in an earlier request is a digest of other data; skipped, cached, replayed or
  deferred work (a background thread still filling an output) yields a different digest.

Drawing the data is therefore inside the timed window on both sides. The runner measures what that costs in
the reference's worker (``generate``: the same draws, no calls) and subtracts it from both sides' times. On a
GPU the digest's ``.item()`` is the synchronising read that makes the batch's time include the device's work.

Input generators live in the assignment's ``tests/perf_inputs.py`` (shipped with the public tests; nothing
secret): ``def NAME(module, size, generator, device, cache) -> (args, kwargs)``, called once per timed call;
``cache`` is a dict that lives for one batch (build a model there once, draw fresh data every call). They
must build everything from ``generator`` alone so both sides get the same inputs.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from autograder.perf.allocator import set_allocator


@dataclass
class Plan:
    """What ``prepare`` set up for the next timed batch: the function, the generator and its batch cache."""

    function: Callable[..., Any]
    make_inputs: Callable[..., Any]
    module: Any
    size: int
    device: torch.device
    cache: dict[str, Any] = field(default_factory=dict)


def digest(value: Any) -> list[float]:
    """Order-sensitive numbers that summarise an output (sums in float64, so both sides compute them alike)."""
    if isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor and not isinstance(value, torch.nn.Parameter):
            raise TypeError(f"a timed function must return plain tensors, not {type(value).__name__}")
        if value.layout != torch.strided or value.is_meta:
            raise TypeError("a timed function must return ordinary (dense) tensors")
        flat = value.detach().reshape(-1)
        if flat.is_complex():
            flat = torch.view_as_real(flat).reshape(-1)
        flat = flat.to(torch.float64)
        weights = torch.arange(1, flat.numel() + 1, dtype=torch.float64, device=flat.device).remainder_(7).add_(1)
        return [float(flat.sum().item()), float((flat * weights).sum().item())]
    if isinstance(value, (int, float, bool)):
        return [float(value)]
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in digest(item)]
    if isinstance(value, dict):
        return [x for key in sorted(value, key=str) for x in digest(value[key])]
    if value is None:
        return []
    raise TypeError(f"a timed function returned a {type(value).__name__}; return tensors, numbers or containers of them")


class PerfSession:
    """Per-worker state: the plan for the next batch."""

    def __init__(self, import_module: Callable[[str], Any], import_inputs: Callable[[str], Any] | None = None) -> None:
        self.import_module = import_module
        # The input generators' module: from the worker's lib/ when grading; by file path on a student's machine
        # (pytest puts tests/ on sys.path only when the assignment has a tests/conftest.py).
        self.import_inputs = import_inputs or importlib.import_module
        self.plan: Plan | None = None

    def prepare(self, function: str, inputs: str, size: int, seed: int, device: str, threads: int) -> None:
        """Build the batch's lasting inputs (one generator call seeded by ``seed``; its data is discarded)."""
        torch.set_num_threads(max(1, threads))
        module_name, _, function_name = function.rpartition(".")
        module = self.import_module(module_name)
        generator_module, _, generator_name = inputs.rpartition(".")
        make_inputs = getattr(self.import_inputs(generator_module), generator_name)
        plan = Plan(getattr(module, function_name), make_inputs, module, size, torch.device(device))
        make_inputs(module, size, torch.Generator().manual_seed(seed), plan.device, plan.cache)
        self.plan = plan
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def _draw(self, seed: int, iterations: int) -> tuple[Plan, list[tuple[tuple[Any, ...], dict[str, Any]]]]:
        if self.plan is None:
            raise RuntimeError("no batch prepared")
        plan, generator = self.plan, torch.Generator().manual_seed(seed)
        calls = []
        for _ in range(iterations):
            args, kwargs = plan.make_inputs(plan.module, plan.size, generator, plan.device, plan.cache)
            calls.append((tuple(args), dict(kwargs)))
        return plan, calls

    def run(self, seed: int, iterations: int) -> list[float]:
        """Draw ``iterations`` inputs from ``seed``, call the function on each, digest all outputs (timed)."""
        plan, calls = self._draw(seed, iterations)
        self.plan = None  # one batch per prepare: e.g. training steps change the model
        outputs = [plan.function(*args, **kwargs) for args, kwargs in calls]
        return [x for output in outputs for x in digest(output)]

    def generate(self, seed: int, iterations: int) -> int:
        """Only draw the inputs ``run`` would draw: what drawing costs, measured in the reference's worker."""
        _, calls = self._draw(seed, iterations)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return len(calls)

    def flops(self, function: str, inputs: str, size: int, seed: int, device: str) -> int:
        """FLOPs of one call as FlopCounterMode counts them (matmuls and convolutions)."""
        from torch.utils.flop_counter import FlopCounterMode

        self.prepare(function, inputs, size, seed, device, 1)
        plan, [(args, kwargs)] = self._draw(seed ^ 0x5A5A5A5A, 1)
        self.plan = None
        counter = FlopCounterMode(display=False)  # display=True needs the optional `tabulate` package
        with counter:
            plan.function(*args, **kwargs)
        return int(counter.get_total_flops())

    def place(self, cpus: list[int]) -> list[int]:
        """Pin every thread of this process to ``cpus`` and return the previous CPU set.

        A process may always set its own threads' affinity, where the runner (root without CAP_SYS_NICE in a
        container) may not set another account's. The runner does not take this on trust: it reads every
        thread's ``Cpus_allowed_list`` and migration count from /proc (autograder/perf/watch.py).
        """
        previous = sorted(os.sched_getaffinity(0))
        for task in os.listdir("/proc/self/task"):
            try:
                os.sched_setaffinity(int(task), cpus)
            except (ProcessLookupError, FileNotFoundError):  # a thread that just ended
                continue
        return previous

    def allocator(self, mode: str) -> None:
        """Put malloc in the fixed state ``mode`` before a measurement (see :func:`set_allocator`)."""
        set_allocator(mode)

    def cuda_peak_bytes(self) -> int | None:
        """Peak bytes allocated on the GPU since the last prepare (None without CUDA)."""
        if not torch.cuda.is_available():
            return None
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated())
