"""A2's own test helpers (its example networks, FLOP and byte oracles, the benchmark-method checker),
reached through the ``helpers`` fixture; generic ones come from ``autograder.kit``. Expected values are
computed while grading: FLOPs by FlopCounterMode, bytes from the tensors an operation reads and writes, the
benchmark's method from the event log of the fake device in tests/a2_probes.py.
You may use these helpers to check your own work."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
import torch
from torch import nn

from autograder import kit


@pytest.fixture(autouse=True)
def _seed_global_rng(seed: int) -> None:
    torch.manual_seed(seed)


helpers = kit.helpers_fixture(__name__)


# ---------------------------------------------------------------- the networks
def example_mlp(width: int = 1024, classes: int = 10) -> nn.Sequential:
    """The MLP whose forward time the grader predicts (input (256, width))."""
    return nn.Sequential(nn.Flatten(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, classes))


def example_cnn(channels: int = 16) -> nn.Sequential:
    """The small CNN whose forward time the grader predicts (input (16, channels, 32, 32))."""
    return nn.Sequential(nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(64 * 16 * 16, 10))


# ---------------------------------------------------------------- oracles for W
def flop_counter(run: Any) -> int:
    """Total FLOPs FlopCounterMode counts for ``run()`` (matmuls and convolutions only)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return int(counter.get_total_flops())


def nbytes(*tensors: torch.Tensor) -> int:
    """Bytes of the given tensors (each read or written once)."""
    return sum(t.numel() * t.element_size() for t in tensors)


def layer_oracle(model: nn.Sequential, x: torch.Tensor) -> list[dict[str, Any]]:
    """Per child layer: kind, FlopCounterMode FLOPs, output shape, and bytes of input + parameters + output
    (0 for Flatten, a view)."""
    rows = []
    with torch.no_grad():
        for name, layer in model.named_children():  # leak-ok
            out = layer(x)
            flops = flop_counter(lambda: layer(x))
            moved = 0 if isinstance(layer, nn.Flatten) else nbytes(x, out, *layer.parameters())
            rows.append({"name": name, "kind": type(layer).__name__, "flops": flops, "bytes": moved,
                         "output_shape": list(out.shape)})
            x = out
    return rows


# ---------------------------------------------------------------- the benchmark's method
def benchmark_problems(events: list[list[Any]], result: Any, *, warmup: int, repeats: int, num_threads: int,
                       warm_cost: float, threads_before: int, threads_after: int) -> list[str]:
    """What is wrong with how a benchmark called the fake device (empty when the method is sound)."""
    problems: list[str] = []
    if not isinstance(result, dict) or not isinstance(result.get("times"), list) or "median" not in result:
        return [f"expected benchmark to return a dict with 'median' and 'times' (a list), got {result!r:.200}"]
    kinds = [e[0] for e in events]
    if "clock" not in kinds:
        return ["benchmark never read the clock it was given (read time only through clock())"]
    first_clock = kinds.index("clock")
    before = kinds[:first_clock].count("call")
    if before < warmup:
        problems.append(f"warm-up: expected at least {warmup} call(s) of fn before the first clock() read, "
                        f"saw {before}; the first calls are slow (allocation, caches, compilation) and must not be timed")
    last_call = last_sync = -1
    unsynced = 0
    windows = calls_in_window = 0
    for index, kind in enumerate(kinds):
        if kind == "call":
            last_call = index
            calls_in_window += 1
        elif kind == "sync":
            last_sync = index
        else:
            if last_call > last_sync:
                unsynced += 1
            if index > first_clock and calls_in_window:
                windows += 1
            calls_in_window = 0
    if unsynced:
        problems.append(f"synchronisation: {unsynced} clock() read(s) came while work was still queued on the device "
                        "(call sync() right before every clock read; on a GPU fn() returns before the work is done)")
    if windows < repeats or len(result["times"]) < repeats:
        problems.append(f"repetitions: expected at least {repeats} timed repetitions, saw {windows} timed window(s) "
                        f"and {len(result['times'])} time(s) returned; one timing says nothing about the noise")
    wrong_threads = sorted({e[1] for e in events[first_clock:] if e[0] == "call" and e[1] != num_threads})
    if wrong_threads:
        problems.append(f"threads: expected every timed call to run with {num_threads} thread(s), some ran with "
                        f"{wrong_threads} (set torch.set_num_threads or Timer(num_threads=...))")
    if threads_after != threads_before:
        problems.append(f"threads: torch's thread count was {threads_before} before benchmark and {threads_after} "
                        "after it; restore the previous count")
    times = [float(t) for t in result["times"]] if all(isinstance(t, (int, float)) for t in result["times"]) else []
    median = result["median"]
    if not isinstance(median, (int, float)) or not times or not math.isclose(median, statistics.median(times), rel_tol=1e-6):
        problems.append(f"median: expected result['median'] to be the median of result['times'], got {median!r}")
    elif not problems and not math.isclose(median, warm_cost, rel_tol=1e-6):
        problems.append(f"median: each warm call costs {warm_cost:g} s on this device, benchmark reported {median:g} s "
                        "per call (divide a repetition's time by the calls it made)")
    return problems
