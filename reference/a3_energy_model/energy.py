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

# BEGIN SOLUTION: the table as data, with its citation (see the handout, "The table")
# STARTER: CITATION = ""  # TODO: author, title, venue, year of the table's source
# STARTER: OP_ENERGY_PJ: dict[tuple[str, str], float] = {}  # TODO: ("add" | "mult", dtype) -> pJ per operation
# STARTER: SRAM_READ_64BIT_PJ: dict[int, float] = {}  # TODO: SRAM capacity in bytes -> pJ per 64-bit read
# STARTER: DRAM_ACCESS_64BIT_PJ: tuple[float, float] = (0.0, 0.0)  # TODO: (low, high) pJ per 64-bit DRAM access
# STARTER: DRAM_WORD_32BIT_PJ = 0.0  # TODO: pJ per 32-bit word read from DRAM, as usually quoted
CITATION = ("M. Horowitz, \"1.1 Computing's energy problem (and what we can do about it)\", IEEE International "
            "Solid-State Circuits Conference (ISSCC) Digest of Technical Papers, 2014, pp. 10-14, "
            "doi:10.1109/ISSCC.2014.6757323 (45 nm, 0.9 V)")
OP_ENERGY_PJ: dict[tuple[str, str], float] = {
    ("add", "int8"): 0.03, ("add", "int32"): 0.1, ("mult", "int8"): 0.2, ("mult", "int32"): 3.1,
    ("add", "fp16"): 0.4, ("add", "fp32"): 0.9, ("mult", "fp16"): 1.1, ("mult", "fp32"): 3.7,
}
SRAM_READ_64BIT_PJ: dict[int, float] = {8 * KIB: 10.0, 32 * KIB: 20.0, 1024 * KIB: 100.0}
DRAM_ACCESS_64BIT_PJ: tuple[float, float] = (1300.0, 2600.0)
DRAM_WORD_32BIT_PJ = 640.0
# END SOLUTION


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
    # BEGIN SOLUTION: one multiply plus one add, looked up in OP_ENERGY_PJ (int8 accumulates in int32)
    bytes_per_element(dtype)  # validates the name
    accumulate = "int32" if dtype == "int8" else dtype
    return OP_ENERGY_PJ[("mult", dtype)] + OP_ENERGY_PJ[("add", accumulate)]
    # END SOLUTION


def dram_energy_pj(num_bytes: int) -> float:
    """Energy to move ``num_bytes`` between DRAM and the chip, in pJ: DRAM_WORD_32BIT_PJ per 4 bytes.

    (640 pJ per 32-bit word is 1280 pJ per 64-bit access, the low end of the table's 1.3-2.6 nJ.) Reads and
    writes cost the same in this model.
    """
    # BEGIN SOLUTION: the table's figure is per 32-bit word: convert it to pJ per byte first
    return num_bytes * DRAM_WORD_32BIT_PJ / 4
    # END SOLUTION


def sram_energy_pj(num_bytes: int, sram_bytes: int = 1024 * KIB) -> float:
    """Energy to move ``num_bytes`` through an on-chip SRAM of capacity ``sram_bytes``, in pJ.

    SRAM_READ_64BIT_PJ[sram_bytes] per 8 bytes. ``sram_bytes`` must be one of the table's capacities (8 KiB,
    32 KiB, 1 MiB), else ValueError naming them. Reads and writes cost the same in this model.
    """
    # BEGIN SOLUTION: look the capacity up in SRAM_READ_64BIT_PJ; the figure is per 64-bit (8-byte) read
    if sram_bytes not in SRAM_READ_64BIT_PJ:
        sizes = ", ".join(f"{size // KIB} KiB" for size in sorted(SRAM_READ_64BIT_PJ))
        raise ValueError(f"no SRAM of {sram_bytes} bytes in the table: use one of {sizes}")
    return num_bytes * SRAM_READ_64BIT_PJ[sram_bytes] / 8
    # END SOLUTION


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
    # BEGIN SOLUTION: per layer, count MACs, parameter bytes and activation bytes, then price each
    if mode not in ("inference", "training"):
        raise ValueError(f"mode must be 'inference' or 'training', got {mode!r}")
    if len(sizes) < 2 or batch < 1:
        raise ValueError(f"need at least two layer sizes and batch >= 1, got sizes={list(sizes)}, batch={batch}")
    width = bytes_per_element(dtype)
    mac = mac_energy_pj(dtype)
    layers = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        params = fan_in * fan_out + fan_out
        if mode == "inference":
            passes, transfers, updates = 1, 1, 0
        else:
            passes = 2 if index == 0 else 3
            transfers = 5 if index == 0 else 6
            updates = params
        arithmetic = (passes * batch * fan_in * fan_out + updates) * mac
        dram = dram_energy_pj(transfers * params * width)
        sram = sram_energy_pj(passes * batch * (fan_in + fan_out) * width, sram_bytes)
        layers.append({"arithmetic_pj": arithmetic, "dram_pj": dram, "sram_pj": sram,
                       "total_pj": arithmetic + dram + sram})
    return layers
    # END SOLUTION


def model_energy(sizes: Sequence[int], batch: int, dtype: str = "fp32", mode: str = "inference",
                 sram_bytes: int = 1024 * KIB) -> dict[str, float]:
    """The whole network's modeled energy for one batch, in pJ: the sums over ``layer_energy``'s layers.

    Keys: ``arithmetic_pj``, ``dram_pj``, ``sram_pj``, ``data_movement_pj`` (DRAM + SRAM) and ``total_pj``.
    """
    # BEGIN SOLUTION: add up layer_energy's entries; data movement is DRAM plus SRAM
    layers = layer_energy(sizes, batch, dtype, mode, sram_bytes)
    totals = {key: sum(layer[key] for layer in layers) for key in ("arithmetic_pj", "dram_pj", "sram_pj")}
    totals["data_movement_pj"] = totals["dram_pj"] + totals["sram_pj"]
    totals["total_pj"] = totals["arithmetic_pj"] + totals["data_movement_pj"]
    return totals
    # END SOLUTION


def energy_per_sample_pj(sizes: Sequence[int], batch_sizes: Sequence[int], dtype: str = "fp32",
                         mode: str = "inference") -> list[float]:
    """Modeled energy per sample (``total_pj / batch``) for each batch size in ``batch_sizes``, in order.

    The weights are read once per batch, so their cost is shared by the batch: the curve falls towards the
    arithmetic + SRAM cost of one sample.
    """
    # BEGIN SOLUTION: model_energy's total for each batch, divided by the batch
    return [model_energy(sizes, batch, dtype, mode)["total_pj"] / batch for batch in batch_sizes]
    # END SOLUTION


def crossover_batch(sizes: Sequence[int], dtype: str = "fp32", mode: str = "inference",
                    max_batch: int = 1 << 20) -> int | None:
    """The smallest batch (1 <= batch <= ``max_batch``) whose modeled arithmetic energy is at least its data
    movement energy (``arithmetic_pj >= data_movement_pj`` in ``model_energy``); None if no batch up to
    ``max_batch`` gets there. Below it, moving data dominates; from it on, arithmetic does.
    """
    # BEGIN SOLUTION: arithmetic grows with the batch faster than data movement: search the first batch that tips
    def tips(batch: int) -> bool:
        energy = model_energy(sizes, batch, dtype, mode)
        return energy["arithmetic_pj"] >= energy["data_movement_pj"]

    if not tips(max_batch):
        return None
    low, high = 0, max_batch  # tips(high) is true; tips(low) is false or low == 0
    while high - low > 1:
        middle = (low + high) // 2
        if tips(middle):
            high = middle
        else:
            low = middle
    return high
    # END SOLUTION


def energy_delay_product(energy_j: float, delay_s: float) -> float:
    """The energy-delay product E x t, in joule-seconds: lower is better, and halving the time at the same
    energy counts as much as halving the energy. Negative inputs are a ValueError."""
    # BEGIN SOLUTION: a product, after checking the inputs
    if energy_j < 0 or delay_s < 0:
        raise ValueError(f"energy and delay must be >= 0, got energy_j={energy_j}, delay_s={delay_s}")
    return energy_j * delay_s
    # END SOLUTION


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
    # BEGIN SOLUTION: glob intel-rapl:*, parse N[:M] from the folder name, read each name file
    pattern = re.compile(r"intel-rapl:(\d+)(?::(\d+))?$")
    names: dict[tuple[int, ...], tuple[str, str]] = {}
    for folder in glob.glob(os.path.join(glob.escape(root), "intel-rapl:*")):
        match = pattern.match(os.path.basename(folder))
        if not match or not os.path.isfile(os.path.join(folder, "energy_uj")):
            continue
        try:
            with open(os.path.join(folder, "name"), encoding="ascii") as handle:
                name = handle.read().strip()
        except OSError:
            continue
        key = tuple(int(part) for part in match.groups() if part is not None)
        names[key] = (name, folder)
    zones = {}
    for key, (name, folder) in names.items():
        if len(key) == 2:
            parent = names.get(key[:1])
            if parent is None:
                continue
            name = f"{parent[0]}/{name}"
        zones[name] = folder
    return dict(sorted(zones.items()))
    # END SOLUTION


def read_counter_uj(zone: str, file: str = "energy_uj") -> int:
    """The integer in ``zone/file`` (µJ). A file this user may not read raises RaplPermissionError whose
    message names the file, the PLATYPUS fix and what to do (run as root, or ask an admin to make the file
    readable); other errors (e.g. FileNotFoundError) pass through."""
    # BEGIN SOLUTION: open and read the file every time (sysfs values change underneath); explain PermissionError
    path = os.path.join(zone, file)
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip())
    except PermissionError:
        raise RaplPermissionError(
            f"cannot read {path}: {PLATYPUS_FIX}. Run the measurement as root (sudo), or ask an admin to make "
            "the energy_uj files readable (chmod/udev rule), or use a daemon that reads them for you.") from None
    # END SOLUTION


def counter_delta_uj(before: int, after: int, max_energy_range_uj: int) -> int:
    """Energy between two readings of one counter, in µJ. A reading smaller than the one before means the
    counter wrapped around (it counts up to ``max_energy_range_uj`` and restarts at 0): add the range."""
    # BEGIN SOLUTION: one wrap at most between two readings
    delta = after - before
    return delta + max_energy_range_uj if delta < 0 else delta
    # END SOLUTION


def safe_poll_interval_s(max_energy_range_uj: int, max_power_w: float = 500.0) -> float:
    """The longest poll interval that cannot miss a wrap: half the time the counter takes to go once round its
    range at ``max_power_w`` (seconds). Two readings further apart than one full range would hide a wrap."""
    # BEGIN SOLUTION: µJ to J, over the power, halved for safety
    return max_energy_range_uj / 1e6 / max_power_w / 2
    # END SOLUTION


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
        # BEGIN SOLUTION: the state poll() and stop() share, and a lock for it
        # STARTER: pass  # TODO: what poll() and stop() share (zones, ranges, last readings, totals), a lock, the thread
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._zones: dict[str, str] = {}
        self._range: dict[str, int] = {}
        self._last: dict[str, int] = {}
        self._total: dict[str, int] = {}
        self._t0 = 0.0
        # END SOLUTION

    def start(self) -> "RaplMeter":
        """Begin the window (see the class docstring)."""
        # BEGIN SOLUTION: zones, ranges and first readings; then the polling thread
        zones = find_rapl_zones(self.root)
        if not zones:
            raise EnergyCounterError(f"no RAPL energy counter on this machine: {self.root} has no intel-rapl zone "
                                     "(no powercap support, e.g. a VM, a container or Gradescope)")
        self._zones = zones
        self._range = {domain: read_counter_uj(zone, "max_energy_range_uj") for domain, zone in zones.items()}
        self._last = {domain: read_counter_uj(zone) for domain, zone in zones.items()}
        self._total = {domain: 0 for domain in zones}
        self.polls, self.lost, self.result = 0, {}, None
        self._t0 = self.clock()
        if self.poll_interval_s is not None:
            interval = min([self.poll_interval_s] + [safe_poll_interval_s(r) for r in self._range.values()])
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
            self._thread.start()
        return self
        # END SOLUTION

    def poll(self) -> None:
        """Read every live domain once and add up (see the class docstring)."""
        # BEGIN SOLUTION: under the lock: read, add the wrapped delta, or record the domain as lost
        with self._lock:
            for domain in list(self._last):
                try:
                    value = read_counter_uj(self._zones[domain])
                except (OSError, ValueError) as exc:
                    self.lost[domain] = f"its counter could not be read mid-measurement ({type(exc).__name__}: {exc})"
                    del self._last[domain]
                    continue
                self._total[domain] += counter_delta_uj(self._last[domain], value, self._range[domain])
                self._last[domain] = value
            self.polls += 1
        # END SOLUTION

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.poll()

    def stop(self) -> dict[str, Any]:
        """End the window and return the result (see the class docstring)."""
        # BEGIN SOLUTION: stop the thread first, then one last poll, then the result
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.poll()
        elapsed = self.clock() - self._t0
        energy = {domain: self._total[domain] / 1e6 for domain in self._last}
        power = {domain: (joules / elapsed if elapsed > 0 else 0.0) for domain, joules in energy.items()}
        self.result = {"energy_j": energy, "elapsed_s": elapsed, "average_power_w": power, "lost": dict(self.lost)}
        return self.result
        # END SOLUTION

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
        # BEGIN SOLUTION: the handle, the first counter reading, the thread
        # STARTER: pass  # TODO: the NVML handle, the first counter reading (or None), a lock, the thread
        self._handle: Any = None
        self._first_mj: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        # END SOLUTION

    def start(self) -> "GpuMeter":
        """Begin the window (see the class docstring)."""
        # BEGIN SOLUTION: import pynvml lazily; try the counter, fall back to power; first sample; thread
        if self.nvml is None:
            import pynvml  # nvidia-ml-py: imported only when a real GPU is measured

            self.nvml = pynvml
        nvml = self.nvml
        nvml.nvmlInit()
        self._handle = nvml.nvmlDeviceGetHandleByIndex(self.index)
        try:
            self._first_mj = int(nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        except nvml.NVMLError:
            self._first_mj = None
        self.samples, self.result = [], None
        self._t0 = self.clock()
        self.poll()
        if self.poll_interval_s is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self
        # END SOLUTION

    def poll(self) -> None:
        """Take one power sample ``(clock(), watts)``."""
        # BEGIN SOLUTION: mW to W, with the time it was read
        watts = self.nvml.nvmlDeviceGetPowerUsage(self._handle) / 1000.0
        with self._lock:
            self.samples.append((self.clock(), watts))
        # END SOLUTION

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            self.poll()

    def stop(self) -> dict[str, Any]:
        """End the window and return the result (see the class docstring)."""
        # BEGIN SOLUTION: last sample and reading; a counter that did not move is reported as unknown, not 0 J
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.poll()
        elapsed = self.clock() - self._t0
        note = ""
        if self._first_mj is not None:
            method = "counter"
            moved = int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)) - self._first_mj
            energy: float | None = moved / 1000.0
            if moved == 0:
                energy = None
                note = (f"the GPU energy counter did not move in this {elapsed * 1000:.0f} ms window: "
                        f"{NVML_UPDATE_NOTE}, so a short window reads 0 J although the GPU drew power; "
                        "measure a longer window (repeat the work) and divide")
        else:
            method = "power"
            energy = sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in zip(self.samples, self.samples[1:]))
        self.nvml.nvmlShutdown()
        power = energy / elapsed if energy is not None and elapsed > 0 else None
        self.result = {"method": method, "energy_j": energy, "elapsed_s": elapsed, "average_power_w": power,
                       "note": note}
        return self.result
        # END SOLUTION

    def __enter__(self) -> "GpuMeter":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ================================================================ 4. measuring work
def total_cpu_energy_j(energy_j: dict[str, float]) -> float:
    """The machine's CPU + memory energy from a RaplMeter ``energy_j`` dict: the sum of the ``package-N``
    domains and their ``package-N/dram`` subzones. ``core`` and ``uncore`` lie inside the package and
    ``psys`` covers the whole platform, so adding them would count energy twice."""
    # BEGIN SOLUTION: packages plus their dram subzones, nothing else
    return sum(joules for domain, joules in energy_j.items()
               if re.fullmatch(r"package-\d+(/dram)?", domain))
    # END SOLUTION


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
    # BEGIN SOLUTION: start the meter (or explain why not), run the calls, stop, total the packages
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    meter = RaplMeter(rapl_root, poll_interval_s=poll_interval_s)
    try:
        meter.start()
    except (EnergyCounterError, PermissionError) as exc:
        begin = time.perf_counter()
        for _ in range(repeat):
            fn(*args, **kwargs)
        elapsed = time.perf_counter() - begin
        return {"energy_j": None, "time_s": elapsed, "average_power_w": None, "calls": repeat, "domains": {},
                "note": f"no energy measured, only time: {exc}"}
    try:
        for _ in range(repeat):
            fn(*args, **kwargs)
    finally:
        result = meter.stop()
    energy = total_cpu_energy_j(result["energy_j"])
    elapsed = result["elapsed_s"]
    note = "; ".join(f"{domain} not counted: {reason}" for domain, reason in result["lost"].items())
    return {"energy_j": energy, "time_s": elapsed, "average_power_w": energy / elapsed if elapsed > 0 else 0.0,
            "calls": repeat, "domains": result["energy_j"], "note": note}
    # END SOLUTION


def energy_per_inference(model: nn.Module, x: torch.Tensor, rapl_root: str = POWERCAP_ROOT,
                         repeat: int = 10) -> dict[str, Any]:
    """Energy and time per inference (per *sample*) of ``model`` on the batch ``x``: ``repeat`` forward passes
    in eval mode under ``torch.inference_mode()``, measured by ``measure_function``.

    Returns ``{"energy_j", "time_s", "note"}`` per sample: the measured totals divided by
    ``repeat * x.shape[0]``; ``energy_j`` None (and the note saying why) where no counter exists.
    """
    # BEGIN SOLUTION: eval + inference_mode, measure repeat forwards, divide by the number of samples
    model.eval()

    def forward() -> None:
        with torch.inference_mode():
            model(x)

    measured = measure_function(forward, rapl_root=rapl_root, repeat=repeat)
    samples = repeat * x.shape[0]
    energy = measured["energy_j"]
    return {"energy_j": None if energy is None else energy / samples, "time_s": measured["time_s"] / samples,
            "note": measured["note"]}
    # END SOLUTION


def compare_dtypes(model: nn.Module, x: torch.Tensor, dtypes: Sequence[torch.dtype] = (torch.float32, torch.bfloat16),
                   rapl_root: str = POWERCAP_ROOT, repeat: int = 10) -> dict[str, dict[str, Any]]:
    """``energy_per_inference`` of a copy of ``model`` and of ``x`` cast to each dtype (the caller's model
    is left unchanged). Keys are the dtypes' names without "torch." ("float32", "bfloat16")."""
    # BEGIN SOLUTION: a deep copy per dtype, cast model and input, measure
    results = {}
    for dtype in dtypes:
        cast = copy.deepcopy(model).to(dtype)
        results[str(dtype).removeprefix("torch.")] = energy_per_inference(cast, x.to(dtype), rapl_root, repeat)
    return results
    # END SOLUTION


def batch_sweep(model: nn.Module, x: torch.Tensor, batch_sizes: Sequence[int], rapl_root: str = POWERCAP_ROOT,
                repeat: int = 10) -> dict[int, dict[str, Any]]:
    """``energy_per_inference`` of ``model`` on the first ``b`` rows of ``x`` for each ``b`` in
    ``batch_sizes`` (each at most ``x.shape[0]``, else ValueError): {b: result}."""
    # BEGIN SOLUTION: slice the batch, measure each size
    too_big = [b for b in batch_sizes if not 1 <= b <= x.shape[0]]
    if too_big:
        raise ValueError(f"batch sizes {too_big} are not between 1 and x.shape[0] = {x.shape[0]}")
    return {int(b): energy_per_inference(model, x[:b], rapl_root, repeat) for b in batch_sizes}
    # END SOLUTION


def measured_vs_modeled(measured_j: float | None, sizes: Sequence[int], batch: int, dtype: str = "fp32",
                        mode: str = "inference") -> dict[str, Any]:
    """Compare a measured energy for one batch with ``model_energy(sizes, batch, dtype, mode)``.

    Returns ``{"measured_j", "modeled_j", "ratio", "note"}``: ratio = measured / modeled. With no measurement
    (``measured_j`` None) ratio is None and the note says no counter was available, so only the model's number
    stands; otherwise the note is "".
    """
    # BEGIN SOLUTION: pJ to J, then the ratio if there is something to compare
    modeled = model_energy(sizes, batch, dtype, mode)["total_pj"] * 1e-12
    if measured_j is None:
        return {"measured_j": None, "modeled_j": modeled, "ratio": None,
                "note": "no energy counter was available, so nothing was measured: only the model's estimate stands"}
    return {"measured_j": measured_j, "modeled_j": modeled, "ratio": measured_j / modeled, "note": ""}
    # END SOLUTION
