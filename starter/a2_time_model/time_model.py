# Starter code for a2_time_model. Replace each NotImplementedError with your implementation.
"""A2: Time -- T = W x t / P, measured and predicted.

The lecture models the execution time of a program as ``T = W * t / P``: W is the work, t the average time
per unit of work, and P the parallelism. Coffee (10 min) and an omelette (5 min) take 15 minutes on one
burner and 10 minutes on two: the average parallelism is 15 / 10 = 1.5.

You measure each factor for PyTorch programs and then predict run times with the formula:

* W: FLOPs and minimum bytes moved of matmul, Linear, Conv2d, elementwise ops and softmax, and of every layer
  of an ``nn.Sequential`` (``*_work``, ``layer_work``, ``arithmetic_intensity``);
* t: microbenchmarks done right (``benchmark``, ``make_sync``) of the achieved FLOP/s of matmuls and the
  bytes/s of a streaming copy (``measure_peak_flops``, ``measure_bandwidth``);
* P: speedup over thread counts and Amdahl's serial fraction (``measure_speedup``, ``fit_amdahl``,
  ``average_parallelism``), and the burners: tasks with dependencies on P identical workers
  (``list_schedule``, ``optimal_makespan``);
* prediction: a roofline from your own peak FLOP/s and bandwidth (``roofline_time``, ``bound``,
  ``predict_forward``);
* growth: how time grows with batch size, width and sequence length (``time_vs_size``, ``fit_exponent``,
  ``model_exponent``);
* a roofline plot (``roofline_plot``; ``python time_model.py roofline.png`` draws yours).

See README.md for the full contract and how each function is graded. Only ``torch``, ``matplotlib``, ``numpy``
and the standard library may be imported.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import sys
import time
from typing import Any, Callable, Iterator

import torch
from torch import nn

Work = dict[str, int]  # {"flops": ..., "bytes": ...}

# FLOPs per element of the non-matmul operations (the conventions of this assignment, see README.md)
RELU_FLOPS_PER_ELEMENT = 1      # one comparison (max(x, 0))
SOFTMAX_FLOPS_PER_ELEMENT = 5   # max, subtract, exp, sum, divide


# ================================================================ W: the work
def matmul_work(m: int, k: int, n: int, element_size: int = 4) -> Work:
    """Work of ``A @ B`` with ``A`` of shape (m, k) and ``B`` of shape (k, n).

    ``flops``: 2 per multiply-add, i.e. ``2*m*k*n`` (FlopCounterMode's convention).
    ``bytes``: the minimum traffic: both inputs read once and the output (m, n) written once, times
    ``element_size`` bytes per element.
    """
    raise NotImplementedError("matmul_work: 2mkn FLOPs; read m*k and k*n elements, write m*n")


def linear_work(batch: int, in_features: int, out_features: int, bias: bool = True, element_size: int = 4) -> Work:
    """Work of ``nn.Linear(in_features, out_features, bias)`` on an input of ``batch`` rows.

    ``flops``: ``2*batch*in_features*out_features``; the bias add is not counted (as FlopCounterMode).
    ``bytes``: input, weight and (if ``bias``) bias read once, output written once.
    """
    raise NotImplementedError("linear_work: a matmul (batch, in) @ (in, out) plus reading the bias")


def conv2d_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output height (or width) of a convolution, as in the ``nn.Conv2d`` documentation."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv2d_work(batch: int, in_channels: int, out_channels: int, height: int, width: int,
                kernel_size: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                padding: int | tuple[int, int] = 0, groups: int = 1, bias: bool = True,
                element_size: int = 4) -> Work:
    """Work of ``nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias)``
    on an input of shape (batch, in_channels, height, width). ``kernel_size``, ``stride``, ``padding`` are an
    int or a (height, width) pair; dilation is 1.

    ``flops``: 2 per multiply-add: ``2 * batch * out_channels * (in_channels/groups) * kh * kw * out_h * out_w``
    (bias not counted, as FlopCounterMode).
    ``bytes``: input, weight (out_channels, in_channels/groups, kh, kw) and bias read once, output
    (batch, out_channels, out_h, out_w) written once.
    """
    raise NotImplementedError("conv2d_work: output size per dimension, then multiply-adds per output element")


def elementwise_work(numel: int, num_inputs: int = 1, flops_per_element: int = 1, element_size: int = 4) -> Work:
    """Work of an elementwise op producing ``numel`` elements from ``num_inputs`` inputs of the same shape
    (ReLU: 1 input, 1 FLOP per element; ``a + b``: 2 inputs, 1 FLOP).

    ``flops``: ``flops_per_element * numel``. ``bytes``: every input read once, the output written once.
    """
    raise NotImplementedError("elementwise_work: num_inputs reads and one write per element")


def softmax_work(numel: int, element_size: int = 4) -> Work:
    """Work of a softmax over a tensor of ``numel`` elements (any dim): ``SOFTMAX_FLOPS_PER_ELEMENT`` (5)
    FLOPs per element, the input read once and the output written once."""
    raise NotImplementedError("softmax_work: an elementwise op with 5 FLOPs per element")


def arithmetic_intensity(work: Work) -> float:
    """FLOPs per byte moved: ``work["flops"] / work["bytes"]`` (0.0 when nothing moves)."""
    raise NotImplementedError("arithmetic_intensity: a ratio; guard the zero")


def layer_work(model: nn.Sequential, input_shape: list[int] | tuple[int, ...], element_size: int = 4) -> list[dict[str, Any]]:
    """The work of every layer of ``model`` (an ``nn.Sequential``) on an input of shape ``input_shape``.

    Supported layers: ``nn.Linear`` (on the last dimension; the rows are all leading dimensions), ``nn.Conv2d``
    (input (N, C, H, W)), ``nn.ReLU`` (elementwise, ``RELU_FLOPS_PER_ELEMENT``), ``nn.Softmax`` (``softmax_work``)
    and ``nn.Flatten`` (a view: 0 FLOPs, 0 bytes). Anything else: raise ``ValueError`` naming the layer.

    Returns one dict per layer, in order: ``{"name": the name in model.named_children(), "kind": the class
    name, "flops": int, "bytes": int, "output_shape": list of ints}``. Compute shapes without running the
    model (no real data needed).
    """
    raise NotImplementedError("layer_work: walk named_children, keep the current shape, call the *_work function of each kind")


# ================================================================ t: the time per unit of work
@contextlib.contextmanager
def torch_threads(num_threads: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num_threads)``; restore the previous count afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def make_sync(device: torch.device | str) -> Callable[[], None]:
    """A function that waits until all work queued on ``device`` has finished.

    CUDA kernels run asynchronously: ``y = a @ b`` returns before the GPU is done, so a clock read right
    after it measures only the launch. On ``cuda`` return a function calling ``torch.cuda.synchronize(device)``;
    on ``cpu`` (synchronous) a function that does nothing.
    """
    raise NotImplementedError("make_sync: torch.cuda.synchronize on CUDA, a no-op on the CPU")


def benchmark(fn: Callable[[], Any], sync: Callable[[], None], *, warmup: int = 2, repeats: int = 7,
              num_threads: int = 1, min_run_time: float = 0.05,
              clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Time ``fn()`` the careful way and return ``{"median": seconds per call, "times": [seconds per call of
    each repetition, at least ``repeats`` of them]}``.

    The method is graded (with a fake device that records how it is called):
      * warm-up: call ``fn()`` at least ``warmup`` times before the first ``clock()`` read (first calls pay
        for allocation, caches, lazy initialisation, compilation);
      * repetitions: at least ``repeats`` timed repetitions (each may run ``fn`` several times and divide),
        summarised by their median (robust to a few disturbed repetitions);
      * threads: every call of ``fn`` runs with ``torch.get_num_threads() == num_threads``; restore the
        previous count afterwards;
      * synchronisation: call ``sync()`` right before **every** ``clock()`` read, so work still queued on
        an asynchronous device (a GPU) is finished inside the timed window;
      * time only through ``clock()`` (default ``time.perf_counter``).
    ``torch.utils.benchmark.Timer`` does most of this: pass it ``timer=`` a function that syncs, then reads
    ``clock()``, and ``num_threads=``. Spend at least ``min_run_time`` seconds in total measuring.
    """
    raise NotImplementedError("benchmark: warm up under the thread count, then Timer(timer=synced clock).blocked_autorange, topped up with timeit blocks")


def measure_peak_flops(device: torch.device | str, sizes: list[int] | tuple[int, ...] = (256, 512, 1024),
                       num_threads: int = 1, dtype: torch.dtype = torch.float32,
                       clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Achieved FLOP/s of square matmuls ``a @ b`` (n x n, ``dtype``, on ``device``) for every n in ``sizes``,
    each timed with your ``benchmark`` (with ``make_sync(device)``, ``num_threads`` threads and ``clock``).

    Returns ``{"flops_per_s": {n: achieved FLOP/s}, "peak": the largest of them}``. Use ``matmul_work`` for W.
    """
    raise NotImplementedError("measure_peak_flops: per size: random inputs on the device, out= buffer, benchmark, W / median")


def measure_bandwidth(device: torch.device | str, numel: int = 1 << 24, num_threads: int = 1,
                      clock: Callable[[], float] = time.perf_counter) -> float:
    """Achieved memory bandwidth in bytes/s of a streaming copy ``dst.copy_(src)`` of ``numel`` float32
    elements on ``device`` (each element read once and written once: ``2 * 4 * numel`` bytes per call),
    timed with your ``benchmark`` (``num_threads`` threads, ``clock``). Use a size far larger than the caches (the default is 64 MiB per tensor)."""
    raise NotImplementedError("measure_bandwidth: two big buffers, benchmark the copy, bytes moved / median")


# ================================================================ P: the parallelism
def measure_speedup(fn: Callable[[], Any], sync: Callable[[], None], thread_counts: list[int], *,
                    clock: Callable[[], float] = time.perf_counter) -> dict[int, float]:
    """Speedup of ``fn`` with each thread count: ``{p: T(thread_counts[0]) / T(p)}``, every T the median
    of your ``benchmark(fn, sync, num_threads=p, clock=clock)``. ``thread_counts[0]`` is the baseline
    (usually 1), so its speedup is 1.0."""
    raise NotImplementedError("measure_speedup: one benchmark per thread count, then ratios to the first")


def amdahl_speedup(serial_fraction: float, p: float) -> float:
    """Amdahl's law: the speedup on ``p`` workers of a program whose ``serial_fraction`` cannot run in parallel."""
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / p)


def fit_amdahl(thread_counts: list[int], speedups: list[float]) -> float:
    """The serial fraction f in [0, 1] that fits ``speedups[i] ~ amdahl_speedup(f, thread_counts[i])`` best.

    Amdahl's law is linear in f after a change of variables: ``1/S - 1/p = f * (1 - 1/p)``. Fit f by least
    squares on that line through the origin (points with p == 1 carry no information), then clamp to [0, 1].
    If no point has p > 1, return 0.0.
    """
    raise NotImplementedError("fit_amdahl: x = 1 - 1/p, y = 1/S - 1/p, f = sum(xy) / sum(xx), clamped")


def average_parallelism(total_work: float, makespan: float) -> float:
    """Average parallelism = total work (sum of all task durations) / makespan (elapsed time).
    A makespan of 0 (no work at all) gives 0.0."""
    raise NotImplementedError("average_parallelism: a ratio; guard the zero")


# ================================================================ P: the burners
def _check_tasks(durations: dict[str, float], deps: dict[str, list[str]]) -> None:
    for task, before in deps.items():
        for other in before:
            if other not in durations or task not in durations:
                raise ValueError(f"dependency {other!r} -> {task!r} names a task that has no duration")


def list_schedule(durations: dict[str, float], deps: dict[str, list[str]], burners: int,
                  order: list[str] | None = None) -> dict[str, Any]:
    """Greedy list scheduling of tasks on ``burners`` identical burners.

    ``durations`` maps task names to durations (>= 0); ``deps[t]`` lists the tasks that must finish before
    ``t`` starts (missing key: none). ``order`` is the priority list (default: the order of ``durations``).
    Rule: whenever a burner is free, start on it the first task in priority order whose dependencies have
    all finished; if none is ready, wait until the next task finishes. Several free burners: the lowest
    numbered first. A task of duration 0 still needs a free burner for an instant.

    Returns ``{"makespan": when the last task finishes, "start": {task: start time}, "burner": {task: burner
    index 0..burners-1}}``. Raise ``ValueError`` for ``burners < 1`` or a dependency on an unknown task.
    """
    raise NotImplementedError("list_schedule: event simulation: free burners take ready tasks in priority order; advance time to the next finish")


def optimal_makespan(durations: dict[str, float], deps: dict[str, list[str]], burners: int) -> float:
    """The smallest possible makespan of the tasks on ``burners`` burners (same inputs as ``list_schedule``),
    found by exhaustive search; instances have at most 8 tasks. Note: greedy list scheduling is not always
    optimal, whatever the order (sometimes a burner must stay idle, waiting for an important task)."""
    raise NotImplementedError("optimal_makespan: branch and bound: append a ready task to one burner at a time (start = max(burner free, deps done))")


# ================================================================ prediction: the roofline
def roofline_time(work: Work, peak_flops: float, bandwidth: float) -> float:
    """Roofline prediction of the time of ``work`` on a machine doing ``peak_flops`` FLOP/s and moving
    ``bandwidth`` bytes/s: compute and memory traffic overlap, so the time is the *larger* of the two."""
    raise NotImplementedError("roofline_time: whichever resource takes longer sets the time")


def bound(work: Work, peak_flops: float, bandwidth: float) -> str:
    """``"compute"`` if the arithmetic intensity is at least the machine's ridge point
    ``peak_flops / bandwidth`` (the FLOPs take at least as long as the bytes), else ``"memory"``."""
    raise NotImplementedError("bound: compare the intensity with the ridge point")


def predict_forward(model: nn.Sequential, input_shape: list[int] | tuple[int, ...], peak_flops: float,
                    bandwidth: float, element_size: int = 4) -> dict[str, Any]:
    """Roofline prediction of one forward pass of ``model`` on an input of ``input_shape``.

    Returns ``{"layers": [one dict per layer of layer_work(...), each with two more keys: "seconds" (its
    roofline_time) and "bound" ("compute" or "memory")], "total": the sum of the layers' seconds}``.
    """
    raise NotImplementedError("predict_forward: layer_work, then roofline_time and bound for each layer")


def measure_forward(model: nn.Module, x: torch.Tensor, num_threads: int = 1,
                    clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Measured forward time of ``model`` on ``x`` (under ``torch.no_grad()``, on ``x``'s device): the whole
    model and each child layer on its own input, every number from your ``benchmark``. Returns ``{"layers":
    [seconds per child layer], "total": seconds of model(x)}``. Used by the plot command; not graded."""
    sync = make_sync(x.device)
    inputs, seconds = [], []
    with torch.no_grad():
        h = x
        for layer in model.children():
            inputs.append(h)
            h = layer(h)
        for layer, h in zip(model.children(), inputs):
            seconds.append(benchmark(lambda: layer(h), sync, num_threads=num_threads, clock=clock)["median"])
        total = benchmark(lambda: model(x), sync, num_threads=num_threads, clock=clock)["median"]
    return {"layers": seconds, "total": total}


# ================================================================ growth
GROWTH_KINDS = ("batch", "width", "seq_len")


def growth_workload(kind: str, size: int, device: torch.device | str) -> Callable[[], Any]:
    """The workload whose growth ``time_vs_size`` measures, built at ``size`` on ``device``:

    * ``"batch"``: ``nn.Linear(512, 512)`` on a batch of ``size`` rows;
    * ``"width"``: ``nn.Linear(size, size)`` on a batch of 256 rows;
    * ``"seq_len"``: self-attention ``softmax(q @ k.T / 8) @ v`` with q, k, v of shape (``size``, 64).
    Returns a no-argument function running it once (under ``torch.no_grad()``).
    """
    device = torch.device(device)
    generator = torch.Generator().manual_seed(size)
    if kind == "batch":
        layer, x = nn.Linear(512, 512).to(device), torch.randn(size, 512, generator=generator).to(device)
    elif kind == "width":
        layer, x = nn.Linear(size, size).to(device), torch.randn(256, size, generator=generator).to(device)
    elif kind == "seq_len":
        q, k, v = (torch.randn(size, 64, generator=generator).to(device) for _ in range(3))

        def attention() -> torch.Tensor:
            with torch.no_grad():
                return torch.softmax(q @ k.T / 8.0, dim=-1) @ v
        return attention
    else:
        raise ValueError(f"kind must be one of {GROWTH_KINDS}, got {kind!r}")

    def run() -> torch.Tensor:
        with torch.no_grad():
            return layer(x)
    return run


def time_vs_size(kind: str, sizes: list[int], device: torch.device | str, num_threads: int = 1,
                 clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Median seconds per call of ``growth_workload(kind, n, device)`` for every n in ``sizes`` (in order),
    each from your ``benchmark`` with ``make_sync(device)``, ``num_threads`` threads and ``clock``."""
    raise NotImplementedError("time_vs_size: one benchmark per size")


def fit_exponent(sizes: list[float], times: list[float]) -> float:
    """The empirical growth exponent: the slope b of the least-squares line ``log(time) = a + b * log(size)``
    (natural logs; at least two distinct sizes)."""
    raise NotImplementedError("fit_exponent: least-squares slope in log-log space")


def model_exponent(kind: str) -> int:
    """The exponent the work model W predicts for ``growth_workload(kind, n, ...)``: FLOPs grow like n**e
    (``"batch"``, ``"width"`` or ``"seq_len"``)."""
    raise NotImplementedError("model_exponent: count how the FLOPs of each workload depend on n")


# ================================================================ the roofline plot
def roofline_plot(path: str, peak_flops: float, bandwidth: float, layers: list[dict[str, Any]]) -> Any:
    """Draw the roofline to the PNG file ``path`` and return the matplotlib ``Figure`` (do not close it).

    One axes, both scales logarithmic (``set_xscale("log")``, ``set_yscale("log")``); x = arithmetic
    intensity (FLOP/byte), y = FLOP/s. Draw the ceiling ``min(peak_flops, bandwidth * x)`` as the axes'
    **first line** (``ax.plot``) over x from 1/100 to 100 times the ridge point (at least 50 points, so it
    bends at the ridge), and each layer as **one scatter point** (``ax.scatter``, one call for all layers) at
    ``x = flops / bytes``, ``y = flops / seconds``, in the order given, with the layer's name as a text label.
    ``layers`` are dicts with ``"name"``, ``"flops"``, ``"bytes"``, ``"seconds"`` (measured). Layers with 0
    FLOPs or 0 bytes have no place on a log plot: leave them out. Label the axes.
    """
    raise NotImplementedError("roofline_plot: a log-log ceiling over a range around the ridge, scatter the layers, label, savefig")


# ================================================================ the command
def example_mlp() -> nn.Sequential:
    """The MLP whose forward time the grader predicts (input (256, 1024))."""
    return nn.Sequential(nn.Flatten(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                         nn.Linear(1024, 10))


def example_cnn() -> nn.Sequential:
    """The small CNN whose forward time the grader predicts (input (16, 16, 32, 32))."""
    return nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(64 * 16 * 16, 10))


def main(argv: list[str]) -> int:
    """``python time_model.py [roofline.png] [cpu|cuda] [--quick]``: measure this machine, predict and measure
    the example MLP and CNN, print the numbers and draw the roofline plot (``--quick``: the MLP only, small sizes)."""
    quick = "--quick" in argv
    args = [a for a in argv if a != "--quick"]
    path = args[0] if args else "roofline.png"
    device = torch.device(args[1] if len(args) > 1 else ("cuda" if torch.cuda.is_available() else "cpu"))
    clock = time.thread_time if device.type == "cpu" else time.perf_counter  # CPU time of this thread on a CPU
    sizes, numel, batch = ((256,), 1 << 20, 8) if quick else ((256, 512, 1024), 1 << 24, 1)
    peak = measure_peak_flops(device, sizes, clock=clock)["peak"]
    bandwidth = measure_bandwidth(device, numel, clock=clock)
    print(f"peak {peak / 1e9:.1f} GFLOP/s, bandwidth {bandwidth / 1e9:.1f} GB/s on {device}")
    models = [("MLP", example_mlp(), (256 // batch, 1024)), ("CNN", example_cnn(), (16, 16, 32, 32))]
    for name, model, shape in models[:1] if quick else models:
        model = model.to(device)
        predicted = predict_forward(model, shape, peak, bandwidth)
        measured = measure_forward(model, torch.randn(*shape, device=device), clock=clock)
        for layer, seconds in zip(predicted["layers"], measured["layers"]):
            layer["predicted"], layer["seconds"] = layer["seconds"], seconds
            print(f"  {name} {layer['name']:>2} {layer['kind']:<8} {layer['bound']:<7} predicted "
                  f"{layer['predicted'] * 1e3:8.3f} ms, measured {seconds * 1e3:8.3f} ms")
        print(f"{name}: predicted {predicted['total'] * 1e3:.2f} ms, measured {measured['total'] * 1e3:.2f} ms")
        if name == "MLP":
            layers = predicted["layers"]
    roofline_plot(path, peak, bandwidth, layers)
    print(f"roofline plot written to {os.path.abspath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
