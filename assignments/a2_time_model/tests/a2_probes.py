"""Trusted helpers the A2 tests run *inside your process* (declared ``[tests] student_side``): a fake
accelerator that records how a benchmark calls it, and readers for the roofline figure you return.

Nothing here is secret, and nothing computed here is trusted as a time: the fake device has a *virtual*
clock that advances only by the work it "ran", so a benchmark of it gives exact, reproducible numbers on any
machine, however busy. Use it to test your own ``benchmark``::

    device = FakeDevice(cold_calls=3, cold_cost=0.05, warm_cost=0.001)
    result = benchmark(device.fn, device.sync, clock=device.clock, warmup=3)
    print(result["median"], device.events[:20])   # 0.001 when the method is right
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import torch

QUEUE_DEPTH = 1024       # like a GPU's launch queue: a full queue makes the next launch wait
MAX_CALLS = 200_000      # a benchmark that never syncs could loop for ever on a clock that never moves


class FakeDevice:
    """An asynchronous device with a virtual clock.

    ``fn()`` queues one kernel and returns at once (like a CUDA launch); its cost is ``cold_cost`` for the
    first ``cold_calls`` calls (allocation, caches, compilation), then ``warm_cost``, scaled by Amdahl's law
    ``serial + (1 - serial) / torch.get_num_threads()`` when ``serial_fraction`` is given. ``sync()`` waits
    for the queue: the clock advances by the queued work. ``clock()`` reads the virtual time in seconds.
    ``events`` records every call: ``["call", threads]``, ``["sync"]``, ``["clock"]``.
    """

    def __init__(self, cold_calls: int = 0, cold_cost: float = 0.05, warm_cost: float = 0.001,
                 serial_fraction: float | None = None) -> None:
        self.cold_calls, self.cold_cost, self.warm_cost = int(cold_calls), float(cold_cost), float(warm_cost)
        self.serial_fraction = serial_fraction
        self.now = 0.0
        self.queue: list[float] = []
        self.calls = 0
        self.events: list[list[Any]] = []

    def fn(self) -> None:
        threads = torch.get_num_threads()
        if self.calls >= MAX_CALLS:
            raise RuntimeError(f"the fake device was called {MAX_CALLS} times without its clock advancing enough; "
                               "does the benchmark call sync() before reading the clock?")
        cost = self.cold_cost if self.calls < self.cold_calls else self.warm_cost
        if self.serial_fraction is not None:
            cost *= self.serial_fraction + (1.0 - self.serial_fraction) / threads
        self.calls += 1
        if len(self.queue) >= QUEUE_DEPTH:  # the launch waits for the oldest kernel
            self.now += self.queue.pop(0)
        self.queue.append(cost)
        self._log(["call", threads])

    def sync(self) -> None:
        self.now += sum(self.queue)
        self.queue.clear()
        self._log(["sync"])

    def clock(self) -> float:
        self._log(["clock"])
        return self.now

    def _log(self, event: list[Any]) -> None:
        if len(self.events) < 4 * MAX_CALLS:
            self.events.append(event)

    def report(self) -> dict[str, Any]:
        """What the tests read back: the event log, the call count and the thread count now."""
        return {"events": self.events, "calls": self.calls, "threads_now": torch.get_num_threads()}


def make_device(cold_calls: int = 0, cold_cost: float = 0.05, warm_cost: float = 0.001,
                serial_fraction: float | None = None) -> FakeDevice:
    """A :class:`FakeDevice` in this process (the tests get a handle to it)."""
    return FakeDevice(cold_calls, cold_cost, warm_cost, serial_fraction)


def set_threads(num_threads: int) -> int:
    """Set torch's thread count here; return the previous one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    return previous


def scratch_path(name: str) -> str:
    """A path in this process's temporary folder (writable by your process on the grader)."""
    folder = tempfile.mkdtemp(prefix="a2-")
    return os.path.join(folder, os.path.basename(name))


def png_header(path: str) -> dict[str, Any]:
    """Whether ``path`` is a PNG file, and its pixel size (read from the IHDR chunk)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
    except OSError as exc:
        return {"exists": False, "error": f"{type(exc).__name__}: {exc}"}
    is_png = head[:8] == b"\x89PNG\r\n\x1a\n"
    size = [int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")] if is_png else [0, 0]
    return {"exists": True, "png": is_png, "size": size, "bytes": os.path.getsize(path)}


def figure_data(figure: Any) -> dict[str, Any]:
    """The data a matplotlib Figure was drawn from: per axes its scales, lines, scatter points and texts."""
    axes = []
    for ax in getattr(figure, "axes", []):
        axes.append({
            "xscale": ax.get_xscale(), "yscale": ax.get_yscale(),
            "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
            "lines": [[[float(v) for v in line.get_xdata()], [float(v) for v in line.get_ydata()]] for line in ax.get_lines()],
            "scatter": [[[float(a), float(b)] for a, b in collection.get_offsets()] for collection in ax.collections
                        if hasattr(collection, "get_offsets")],
            "texts": [str(t.get_text()) for t in ax.texts],
        })
    return {"type": type(figure).__name__, "axes": axes}


def thread_clock() -> Any:
    """``time.thread_time`` of this process: the clock the tests pass to your measuring functions on the CPU
    (the CPU time of the calling thread; a function cannot be sent to your process, so the tests ask for it here)."""
    import time

    return time.thread_time
