"""Worker side of a performance measurement: prepare fresh inputs, run a timed batch, digest the outputs.

The runner times each batch with its own clock around one request, so patching ``time`` or
``torch.utils.benchmark`` in the worker changes nothing. Inputs are generated in the worker from a seed the
runner picks per round (``prepare``, not timed); ``run`` calls the function once per prepared input and, before
replying, folds every output into a digest that the runner compares with the reference's. Skipped, cached,
replayed or deferred work (a background thread still filling an output) yields a different digest. On a GPU
the digest's ``.item()`` is the synchronising read that makes the batch's time include the device's work.

Input generators live in the assignment's ``tests/perf_inputs.py`` (shipped with the public tests; nothing
secret): ``def NAME(module, size, generator, device, cache) -> (args, kwargs)``, called once per timed call;
``cache`` is a dict that lives for one batch (build a model there once). They must build everything from
``generator`` alone (e.g. load seeded parameters into ``module.NeuralNetwork(...)``) so both sides get the
same inputs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from autograder.perf.allocator import set_allocator


@dataclass
class Batch:
    """Inputs prepared for the next timed run."""

    function: Callable[..., Any]
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)


def digest(value: Any) -> list[float]:
    """Order-sensitive numbers that summarise an output (sums in float64, so both sides compute them alike)."""
    if isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor and not isinstance(value, torch.nn.Parameter):
            raise TypeError(f"a timed function must return plain tensors, not {type(value).__name__}")
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
    """Per-worker state: the prepared batch and the modules it uses."""

    def __init__(self, import_module: Callable[[str], Any]) -> None:
        self.import_module = import_module
        self.batch: Batch | None = None

    def prepare(self, function: str, inputs: str, size: int, seed: int, iterations: int, device: str,
                threads: int) -> int:
        torch.set_num_threads(max(1, threads))
        module_name, _, function_name = function.rpartition(".")
        module = self.import_module(module_name)
        generator_module, _, generator_name = inputs.rpartition(".")
        make_inputs = getattr(importlib.import_module(generator_module), generator_name)
        generator = torch.Generator().manual_seed(seed)
        batch = Batch(function=getattr(module, function_name))
        cache: dict[str, Any] = {}  # lives for one batch: e.g. a model built once, fresh data every call
        for _ in range(iterations):
            args, kwargs = make_inputs(module, size, generator, torch.device(device), cache)
            batch.calls.append((tuple(args), dict(kwargs)))
        self.batch = batch
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        return len(batch.calls)

    def run(self) -> list[float]:
        """Call the function on every prepared input, then digest all outputs; the runner times this."""
        if self.batch is None:
            raise RuntimeError("no batch prepared")
        batch, self.batch = self.batch, None
        outputs = [batch.function(*args, **kwargs) for args, kwargs in batch.calls]
        return [x for output in outputs for x in digest(output)]

    def flops(self, function: str, inputs: str, size: int, seed: int, device: str) -> int:
        """FLOPs of one call as FlopCounterMode counts them (matmuls and convolutions)."""
        from torch.utils.flop_counter import FlopCounterMode

        self.prepare(function, inputs, size, seed, 1, device, 1)
        assert self.batch is not None
        (args, kwargs), call = self.batch.calls[0], self.batch.function
        self.batch = None
        counter = FlopCounterMode(display=False)  # display=True needs the optional `tabulate` package
        with counter:
            call(*args, **kwargs)
        return int(counter.get_total_flops())

    def allocator(self, mode: str) -> None:
        """Put malloc in the fixed state ``mode`` before a measurement (see :func:`set_allocator`)."""
        set_allocator(mode)

    def cuda_peak_bytes(self) -> int | None:
        """Peak bytes allocated on the GPU since the last prepare (None without CUDA)."""
        if not torch.cuda.is_available():
            return None
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated())
