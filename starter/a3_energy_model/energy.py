# Starter code for a3_energy_model. Replace each NotImplementedError with your implementation.
"""A3: E = sum of E_w -- energy, modeled and measured.

The lecture's first energy model adds up the energy of each piece of work: E = sum over w in W of E_w. You
build both halves of the story:

1. a model that predicts the energy of an MLP's inference and training step from a table of energy per
   operation (Horowitz, ISSCC 2014, 45 nm), split into arithmetic and data movement;
2. meters that read energy from the hardware: Intel/AMD RAPL through Linux powercap, and an NVIDIA GPU
   through NVML (``nvidia-ml-py``'s ``pynvml``);
3. measurements of real work with those meters, compared with the model; where no counter exists (Gradescope,
   most VMs) the results say so plainly instead of inventing a number.

Everything that touches hardware takes its source as a parameter (the powercap root folder, the NVML module,
the clock), so the grader can test your meters against fake counters on a machine that has none. See
README.md for the full contract. Only ``torch``, the standard library and ``pynvml`` may be imported
(``pynvml`` only inside functions, when no NVML module is passed in).
"""

from __future__ import annotations

import copy
import glob
import os
import re
import threading
import time
from typing import Any, Callable, Sequence

import torch
from torch import nn

# ================================================================ 1. the energy model
DTYPES = ("fp32", "fp16", "int8")  # the number formats the model knows
KIB = 1024

CITATION = ""  # TODO: author, title, venue, year of the table's source
OP_ENERGY_PJ: dict[tuple[str, str], float] = {}  # TODO: ("add" | "mult", dtype) -> pJ per operation
SRAM_READ_64BIT_PJ: dict[int, float] = {}  # TODO: SRAM capacity in bytes -> pJ per 64-bit read
DRAM_ACCESS_64BIT_PJ: tuple[float, float] = (0.0, 0.0)  # TODO: (low, high) pJ per 64-bit DRAM access
DRAM_WORD_32BIT_PJ = 0.0  # TODO: pJ per 32-bit word read from DRAM, as usually quoted


def bytes_per_element(dtype: str) -> int:
    """Bytes one value of ``dtype`` ("fp32", "fp16" or "int8") takes; anything else is a ValueError."""
    sizes = {"fp32": 4, "fp16": 2, "int8": 1}
    if dtype not in sizes:
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    return sizes[dtype]


def mac_energy_pj(dtype: str) -> float:
    """Energy of one multiply-accumulate in ``dtype``, in pJ, from OP_ENERGY_PJ.

    fp32 and fp16: a multiply and an add in that format. int8: an int8 multiply and an **int32** add (sums of
    int8 products overflow 8 bits, so accumulators are 32-bit). Unknown dtype: ValueError.
    """
    raise NotImplementedError("mac_energy_pj: one multiply plus one add, looked up in OP_ENERGY_PJ (int8 accumulates in int32)")


def dram_energy_pj(num_bytes: int) -> float:
    """Energy to move ``num_bytes`` between DRAM and the chip, in pJ: DRAM_WORD_32BIT_PJ per 4 bytes.

    (640 pJ per 32-bit word is 1280 pJ per 64-bit access, the low end of the table's 1.3-2.6 nJ.) Reads and
    writes cost the same in this model.
    """
    raise NotImplementedError("dram_energy_pj: the table's figure is per 32-bit word: convert it to pJ per byte first")


def sram_energy_pj(num_bytes: int, sram_bytes: int = 1024 * KIB) -> float:
    """Energy to move ``num_bytes`` through an on-chip SRAM of capacity ``sram_bytes``, in pJ.

    SRAM_READ_64BIT_PJ[sram_bytes] per 8 bytes. ``sram_bytes`` must be one of the table's capacities (8 KiB,
    32 KiB, 1 MiB), else ValueError naming them. Reads and writes cost the same in this model.
    """
    raise NotImplementedError("sram_energy_pj: look the capacity up in SRAM_READ_64BIT_PJ; the figure is per 64-bit (8-byte) read")


def layer_energy(sizes: Sequence[int], batch: int, dtype: str = "fp32", mode: str = "inference",
                 sram_bytes: int = 1024 * KIB) -> list[dict[str, float]]:
    """Modeled energy of each Linear layer of the MLP ``sizes`` (a1's layout: Linear(s[0], s[1]), ReLU, ...,
    Linear(s[-2], s[-1])) for one batch, in pJ.

    Returns one dict per Linear, in order, with keys ``arithmetic_pj``, ``dram_pj``, ``sram_pj`` and
    ``total_pj`` (the sum of the other three). Stated assumptions (the handout explains each):

    * arithmetic: multiply-accumulates only (``mac_energy_pj(dtype)`` each; bias adds and ReLUs are
      negligible and left out). A layer of ``batch * fan_in * fan_out`` MACs runs that many per *matmul
      pass*: inference has 1 pass; training has 3 (forward, gradient of the input, gradient of the weight)
      except the first layer, which has 2 (nothing needs the gradient of the network's input). Training
      also updates every parameter of the layer (weight and bias) once, one MAC each (``w -= lr * g``).
    * DRAM: the layer's parameters (weight and bias, ``dtype``-sized) are read from DRAM once per batch
      (inference: 1 transfer of all its parameter bytes). Training moves them 6 times: read for the
      forward, read for the input-gradient pass, write the gradient, and the update reads the parameter
      and its gradient and writes the parameter; the first layer has no input-gradient pass (5 times).
    * SRAM: activations stay on chip in an SRAM of ``sram_bytes``. Each matmul pass moves two
      activation-sized operands of ``batch * (fan_in + fan_out)`` values through it (forward: read x,
      write y; input gradient: read dy, write dx; weight gradient: read x and dy).

    ``mode`` is "inference" or "training"; ``sizes`` needs at least two entries; ``batch`` >= 1. Bad
    arguments are a ValueError that names the argument.
    """
    raise NotImplementedError("layer_energy: per layer, count MACs, parameter bytes and activation bytes, then price each")


def model_energy(sizes: Sequence[int], batch: int, dtype: str = "fp32", mode: str = "inference",
                 sram_bytes: int = 1024 * KIB) -> dict[str, float]:
    """The whole network's modeled energy for one batch, in pJ: the sums over ``layer_energy``'s layers.

    Keys: ``arithmetic_pj``, ``dram_pj``, ``sram_pj``, ``data_movement_pj`` (DRAM + SRAM) and ``total_pj``.
    """
    raise NotImplementedError("model_energy: add up layer_energy's entries; data movement is DRAM plus SRAM")


def energy_per_sample_pj(sizes: Sequence[int], batch_sizes: Sequence[int], dtype: str = "fp32",
                         mode: str = "inference") -> list[float]:
    """Modeled energy per sample (``total_pj / batch``) for each batch size in ``batch_sizes``, in order.

    The weights are read once per batch, so their cost is shared by the batch: the curve falls towards the
    arithmetic + SRAM cost of one sample.
    """
    raise NotImplementedError("energy_per_sample_pj: model_energy's total for each batch, divided by the batch")


def crossover_batch(sizes: Sequence[int], dtype: str = "fp32", mode: str = "inference",
                    max_batch: int = 1 << 20) -> int | None:
    """The smallest batch (1 <= batch <= ``max_batch``) whose modeled arithmetic energy is at least its data
    movement energy (``arithmetic_pj >= data_movement_pj`` in ``model_energy``); None if no batch up to
    ``max_batch`` gets there. Below it, moving data dominates; from it on, arithmetic does.
    """
    raise NotImplementedError("crossover_batch: arithmetic grows with the batch faster than data movement: search the first batch that tips")


def energy_delay_product(energy_j: float, delay_s: float) -> float:
    """The energy-delay product E x t, in joule-seconds: lower is better, and halving the time at the same
    energy counts as much as halving the energy. Negative inputs are a ValueError."""
    raise NotImplementedError("energy_delay_product: a product, after checking the inputs")


# ================================================================ 2. the RAPL meter (Linux powercap)
POWERCAP_ROOT = "/sys/class/powercap"
PLATYPUS_FIX = ("since the PLATYPUS fix (CVE-2020-8694, Linux commit 949dd0104c49 \"powercap: restrict energy "
                "meter to root access\", Nov 2020) the RAPL energy counters are readable by root only")


class EnergyCounterError(RuntimeError):
    """No usable energy counter: none exists here, or it stopped answering."""


class RaplPermissionError(PermissionError):
    """A RAPL counter exists but this user may not read it (PLATYPUS)."""


def find_rapl_zones(root: str = POWERCAP_ROOT) -> dict[str, str]:
    """The RAPL zones under ``root``: ``{domain: zone folder}``, sorted by domain.

    Zones are the folders ``root/intel-rapl:N`` (a socket's package, or ``psys``) and ``root/intel-rapl:N:M``
    (a subzone of zone N: ``core``, ``uncore``, ``dram``), as Linux lists them (AMD CPUs use the same names).
    The domain of a top zone is its ``name`` file's text (``package-0``, ``psys``); a subzone's is its
    parent's domain, a slash, and its own name (``package-0/dram``). Folders without an ``energy_uj`` file,
    and other folders (such as the ``intel-rapl`` control folder), are skipped. A root that does not exist
    gives ``{}``.
    """
    raise NotImplementedError("find_rapl_zones: glob intel-rapl:*, parse N[:M] from the folder name, read each name file")


def read_counter_uj(zone: str, file: str = "energy_uj") -> int:
    """The integer in ``zone/file`` (µJ). A file this user may not read raises RaplPermissionError whose
    message names the file, the PLATYPUS fix and what to do (run as root, or ask an admin to make the file
    readable); other errors (e.g. FileNotFoundError) pass through."""
    raise NotImplementedError("read_counter_uj: open and read the file every time (sysfs values change underneath); explain PermissionError")


def counter_delta_uj(before: int, after: int, max_energy_range_uj: int) -> int:
    """Energy between two readings of one counter, in µJ. A reading smaller than the one before means the
    counter wrapped around (it counts up to ``max_energy_range_uj`` and restarts at 0): add the range."""
    raise NotImplementedError("counter_delta_uj: one wrap at most between two readings")


def safe_poll_interval_s(max_energy_range_uj: int, max_power_w: float = 500.0) -> float:
    """The longest poll interval that cannot miss a wrap: half the time the counter takes to go once round its
    range at ``max_power_w`` (seconds). Two readings further apart than one full range would hide a wrap."""
    raise NotImplementedError("safe_poll_interval_s: µJ to J, over the power, halved for safety")


class RaplMeter:
    """Energy per RAPL domain over a window, as a context manager or with start()/stop()::

        with RaplMeter() as meter:
            work()
        meter.result["energy_j"]  # {"package-0": 12.3, "package-0/dram": 1.2, ...}

    ``start()`` finds the zones (``find_rapl_zones(root)``), reads each zone's ``max_energy_range_uj`` and
    its first ``energy_uj``, and, unless ``poll_interval_s`` is None, starts a daemon thread that calls
    ``poll()`` every ``min(poll_interval_s, safe_poll_interval_s(range))`` seconds, so no wrap goes unseen.
    It raises EnergyCounterError if ``root`` has no zone (the message says there is no RAPL counter on this
    machine and names ``root``), and RaplPermissionError (see ``read_counter_uj``) if a counter is unreadable.
    ``start()`` returns the meter.

    ``poll()`` reads every domain still being measured and adds the energy since its last reading
    (``counter_delta_uj``); a domain whose counter cannot be read any more (its file vanished, any OSError)
    is dropped from the measurement and recorded in ``lost`` with the reason; it never raises for that. Each
    call increments ``polls`` (an int, starting at 0 after ``start()``). Thread-safe.

    ``stop()`` ends the thread, polls once more, and returns (and stores as ``result``) a dict:
    ``energy_j`` ({domain: J} for the domains read through the whole window), ``elapsed_s`` (by ``clock``),
    ``average_power_w`` ({domain: W}, energy / elapsed; 0.0 when elapsed is 0) and ``lost``
    ({domain: reason}). ``__enter__`` is ``start()``; ``__exit__`` calls ``stop()``.
    """

    def __init__(self, root: str = POWERCAP_ROOT, poll_interval_s: float | None = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root, self.poll_interval_s, self.clock = root, poll_interval_s, clock
        self.polls = 0
        self.lost: dict[str, str] = {}
        self.result: dict[str, Any] | None = None
        pass  # TODO: what poll() and stop() share (zones, ranges, last readings, totals), a lock, the thread

    def start(self) -> "RaplMeter":
        """Begin the window (see the class docstring)."""
        raise NotImplementedError("RaplMeter.start: zones, ranges and first readings; then the polling thread")

    def poll(self) -> None:
        """Read every live domain once and add up (see the class docstring)."""
        raise NotImplementedError("RaplMeter.poll: under the lock: read, add the wrapped delta, or record the domain as lost")

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.poll()

    def stop(self) -> dict[str, Any]:
        """End the window and return the result (see the class docstring)."""
        raise NotImplementedError("RaplMeter.stop: stop the thread first, then one last poll, then the result")

    def __enter__(self) -> "RaplMeter":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ================================================================ 3. the GPU meter (NVML)
NVML_UPDATE_NOTE = "NVML's energy counter updates only every ~20-100 ms"


class GpuMeter:
    """Energy of one NVIDIA GPU over a window, through NVML (``pynvml`` from ``nvidia-ml-py``).

    ``nvml`` is the NVML module; None imports ``pynvml`` (inside ``start()``, never at import time). Only
    these of its names are used: ``nvmlInit``, ``nvmlShutdown``, ``nvmlDeviceGetHandleByIndex``,
    ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since the driver loaded; Volta and newer),
    ``nvmlDeviceGetPowerUsage`` (mW, now) and the exception class ``NVMLError``.

    ``start()`` calls ``nvmlInit`` and gets the handle of GPU ``index``; it reads the energy counter: if that
    raises ``NVMLError`` (not supported on this GPU), the meter integrates power instead. In both cases it
    takes a first power sample ``(clock(), watts)`` and, unless ``poll_interval_s`` is None, starts a daemon
    thread calling ``poll()`` every ``poll_interval_s``. Returns the meter.

    ``poll()`` appends one power sample. ``stop()`` ends the thread, takes a last sample, calls
    ``nvmlShutdown`` and returns (and stores as ``result``) a dict:

    * ``method``: "counter" or "power";
    * ``energy_j``: counter: (last - first reading) / 1000; power: the trapezoidal integral of the samples
      over their clock times. **If the counter did not move** (a window shorter than its ~20-100 ms update
      period reads 0), ``energy_j`` is None, not 0: the GPU was not drawing zero watts;
    * ``elapsed_s`` (by ``clock``) and ``average_power_w`` (energy / elapsed; None when energy is None or
      elapsed is 0);
    * ``note``: "" when ``energy_j`` is a number; otherwise a sentence that says the counter did not move in
      this window, the window's length in ms, that it updates only every ~20-100 ms, and to measure a
      longer window (repeat the work).
    """

    def __init__(self, index: int = 0, nvml: Any = None, poll_interval_s: float | None = 0.02,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.index, self.nvml, self.poll_interval_s, self.clock = index, nvml, poll_interval_s, clock
        self.samples: list[tuple[float, float]] = []
        self.result: dict[str, Any] | None = None
        pass  # TODO: the NVML handle, the first counter reading (or None), a lock, the thread

    def start(self) -> "GpuMeter":
        """Begin the window (see the class docstring)."""
        raise NotImplementedError("GpuMeter.start: import pynvml lazily; try the counter, fall back to power; first sample; thread")

    def poll(self) -> None:
        """Take one power sample ``(clock(), watts)``."""
        raise NotImplementedError("GpuMeter.poll: mW to W, with the time it was read")

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            self.poll()

    def stop(self) -> dict[str, Any]:
        """End the window and return the result (see the class docstring)."""
        raise NotImplementedError("GpuMeter.stop: last sample and reading; a counter that did not move is reported as unknown, not 0 J")

    def __enter__(self) -> "GpuMeter":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ================================================================ 4. measuring work
def total_cpu_energy_j(energy_j: dict[str, float]) -> float:
    """The machine's CPU + memory energy from a RaplMeter ``energy_j`` dict: the sum of the ``package-N``
    domains and their ``package-N/dram`` subzones. ``core`` and ``uncore`` lie inside the package and
    ``psys`` covers the whole platform, so adding them would count energy twice."""
    raise NotImplementedError("total_cpu_energy_j: packages plus their dram subzones, nothing else")


def measure_function(fn: Callable[..., Any], *args: Any, rapl_root: str = POWERCAP_ROOT, repeat: int = 1,
                     poll_interval_s: float | None = 0.5, **kwargs: Any) -> dict[str, Any]:
    """Energy, time and average power of ``repeat`` calls ``fn(*args, **kwargs)``, measured with a RaplMeter
    on ``rapl_root`` (polling every ``poll_interval_s``).

    Returns ``{"energy_j", "time_s", "average_power_w", "calls", "domains", "note"}``: energy is
    ``total_cpu_energy_j`` of the meter's ``energy_j``, time its ``elapsed_s``, power their ratio (0.0 when the
    time is 0), calls is ``repeat``, domains the meter's ``energy_j`` dict, note "" on success.

    Where there is no counter (the meter raises EnergyCounterError or PermissionError), the work still runs
    and is timed (``time.perf_counter``) but ``energy_j`` and ``average_power_w`` are None, ``domains`` is {},
    and ``note`` says plainly that no energy was measured and why (the meter's message). A domain lost during
    the measurement is named in the note. ``repeat`` < 1 is a ValueError.
    """
    raise NotImplementedError("measure_function: start the meter (or explain why not), run the calls, stop, total the packages")


def energy_per_inference(model: nn.Module, x: torch.Tensor, rapl_root: str = POWERCAP_ROOT,
                         repeat: int = 10) -> dict[str, Any]:
    """Energy and time per inference (per *sample*) of ``model`` on the batch ``x``: ``repeat`` forward passes
    in eval mode under ``torch.inference_mode()``, measured by ``measure_function``.

    Returns ``{"energy_j", "time_s", "note"}`` per sample: the measured totals divided by
    ``repeat * x.shape[0]``; ``energy_j`` None (and the note saying why) where no counter exists.
    """
    raise NotImplementedError("energy_per_inference: eval + inference_mode, measure repeat forwards, divide by the number of samples")


def compare_dtypes(model: nn.Module, x: torch.Tensor, dtypes: Sequence[torch.dtype] = (torch.float32, torch.bfloat16),
                   rapl_root: str = POWERCAP_ROOT, repeat: int = 10) -> dict[str, dict[str, Any]]:
    """``energy_per_inference`` of a copy of ``model`` and of ``x`` cast to each dtype (the caller's model
    is left unchanged). Keys are the dtypes' names without "torch." ("float32", "bfloat16")."""
    raise NotImplementedError("compare_dtypes: a deep copy per dtype, cast model and input, measure")


def batch_sweep(model: nn.Module, x: torch.Tensor, batch_sizes: Sequence[int], rapl_root: str = POWERCAP_ROOT,
                repeat: int = 10) -> dict[int, dict[str, Any]]:
    """``energy_per_inference`` of ``model`` on the first ``b`` rows of ``x`` for each ``b`` in
    ``batch_sizes`` (each at most ``x.shape[0]``, else ValueError): {b: result}."""
    raise NotImplementedError("batch_sweep: slice the batch, measure each size")


def measured_vs_modeled(measured_j: float | None, sizes: Sequence[int], batch: int, dtype: str = "fp32",
                        mode: str = "inference") -> dict[str, Any]:
    """Compare a measured energy for one batch with ``model_energy(sizes, batch, dtype, mode)``.

    Returns ``{"measured_j", "modeled_j", "ratio", "note"}``: ratio = measured / modeled. With no measurement
    (``measured_j`` None) ratio is None and the note says no counter was available, so only the model's number
    stands; otherwise the note is "".
    """
    raise NotImplementedError("measured_vs_modeled: pJ to J, then the ratio if there is something to compare")
