"""Fake energy hardware for A3's tests, built *inside the student's process* (``[tests] student_side``).

The grader and Gradescope have no RAPL and no GPU, so the meters are tested against fakes: a powercap tree in
a temporary folder whose ``energy_uj`` files the tests move (between explicit ``poll()`` calls, or while the
meter's own polling thread runs), an NVML stand-in with the ``pynvml`` names the meter uses, a clock the tests
advance, and work (a callable, a model) that moves the fake counters by known amounts. Everything here only
sets things up; the tests compute every expected value in their own process. You may use these fakes to
test your own meters: ``student_process.call("fake_energy.make_powercap", ...)`` runs them in your process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn


def _write(path: str, text: str) -> None:
    """Replace the file's content atomically, so a meter polling from another thread never reads half a value."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    os.replace(temporary, path)


def make_powercap(zones: list[dict[str, Any]]) -> str:
    """A fake ``/sys/class/powercap``: the ``intel-rapl`` control folder (no counter) and one folder per zone.

    Each zone is ``{"dir": "intel-rapl:0:1", "name": "dram", "energy_uj": 5, "max_energy_range_uj": 1000}``;
    ``max_energy_range_uj`` may be left out for a folder with no counter files at all. Returns the root.
    """
    root = tempfile.mkdtemp(prefix="powercap-")
    os.makedirs(os.path.join(root, "intel-rapl"))
    _write(os.path.join(root, "intel-rapl", "enabled"), "1")
    for zone in zones:
        folder = os.path.join(root, zone["dir"])
        os.makedirs(folder)
        _write(os.path.join(folder, "name"), zone["name"])
        if "max_energy_range_uj" in zone:
            _write(os.path.join(folder, "max_energy_range_uj"), str(int(zone["max_energy_range_uj"])))
            _write(os.path.join(folder, "energy_uj"), str(int(zone["energy_uj"])))
    return root


def set_counter(root: str, zone_dir: str, value: int) -> None:
    """Set one zone's ``energy_uj``."""
    _write(os.path.join(root, zone_dir, "energy_uj"), str(int(value)))


def remove_zone(root: str, zone_dir: str) -> None:
    """Make a zone vanish, as a counter does when its driver goes away mid-measurement."""
    shutil.rmtree(os.path.join(root, zone_dir))


def make_unreadable(root: str, zone_dir: str) -> bool:
    """``chmod 000`` one zone's ``energy_uj``, as the PLATYPUS fix does for non-root users. Returns whether this
    process really cannot read it now (root still can: then the test has nothing to test)."""
    path = os.path.join(root, zone_dir, "energy_uj")
    os.chmod(path, 0)
    try:
        Path(path).read_bytes()
    except PermissionError:
        return True
    return False


def wait_for_polls(meter: Any, count: int, timeout_s: float = 30.0) -> bool:
    """Wait until ``meter.polls`` reaches ``count`` (the meter's own thread polls); False after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if int(meter.polls) >= count:
            return True
        time.sleep(0.001)
    return False


def polls_in_window(meter: Any, seconds: float) -> int:
    """How many times ``meter``'s own thread polled during ``seconds`` between ``start()`` and ``stop()``."""
    meter.start()
    first = int(meter.polls)
    time.sleep(seconds)
    count = int(meter.polls) - first
    meter.stop()
    return count


def drive(meter: Any, root: str, steps: list[list[Any]], use_with: bool = False) -> dict[str, Any]:
    """Run ``meter`` (its polling thread on) while moving counters: each step is ``[zone_dir, value]``; after
    each, wait until the meter has polled twice more (so one poll began after the write). ``use_with`` runs
    the window as ``with meter:``, else ``start()``/``stop()``. Returns the meter's result and whether every
    wait was served (``{"result": ..., "served": bool}``)."""
    served = True

    def moves() -> None:
        nonlocal served
        for zone_dir, value in steps:
            set_counter(root, zone_dir, value)
            # read the count after the write: a poll that was under way may have read the old value, but the
            # one after it began after this line, so it reads the new one
            served = served and wait_for_polls(meter, int(meter.polls) + 2)  # after one miss, wait no more

    if use_with:
        with meter:
            moves()
        result = meter.result
    else:
        meter.start()
        moves()
        result = meter.stop()
    return {"result": result, "served": served}


class Bumper:
    """Work that moves fake counters: each call adds ``uj`` to each named zone's counter (wrapping at
    ``max_energy_range_uj``) and sleeps ``sleep_s`` so the call takes measurable time."""

    def __init__(self, root: str, zones: dict[str, int], ranges: dict[str, int], sleep_s: float = 0.002) -> None:
        self.root, self.zones, self.ranges, self.sleep_s = root, dict(zones), dict(ranges), sleep_s
        self.calls = 0

    def bump(self, zone_dir: str, uj: int) -> None:
        path = os.path.join(self.root, zone_dir, "energy_uj")
        value = int(Path(path).read_text(encoding="ascii"))
        set_counter(self.root, zone_dir, (value + uj) % self.ranges[zone_dir])

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        for zone_dir, uj in self.zones.items():
            self.bump(zone_dir, uj)
        time.sleep(self.sleep_s)


class BusyLoop:
    """Real work for real counters: each call keeps one CPU busy for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)

    def __call__(self) -> None:
        end = time.perf_counter() + self.seconds
        while time.perf_counter() < end:
            pass


class MeteredModel(nn.Module):
    """A tiny model whose forward moves a fake package counter like a real accelerator would draw energy:
    ``fixed_uj`` per call (reading the weights) plus ``per_sample_uj[dtype] * batch``. It records the dtypes
    and modes it ran in, so a test can see that it ran in eval mode under inference_mode."""

    def __init__(self, root: str, zone_dir: str, max_range_uj: int, fixed_uj: int,
                 per_sample_uj: dict[str, int], features: int = 8) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 3)
        self.bumper = Bumper(root, {}, {zone_dir: max_range_uj}, sleep_s=0.001)
        self.zone_dir, self.fixed_uj, self.per_sample_uj = zone_dir, fixed_uj, dict(per_sample_uj)
        self.seen: list[list[Any]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = str(x.dtype).removeprefix("torch.")
        self.seen.append([dtype, self.training, torch.is_inference_mode_enabled(), int(x.shape[0]),
                          str(self.linear.weight.dtype).removeprefix("torch.")])
        self.bumper.bump(self.zone_dir, self.fixed_uj + self.per_sample_uj[dtype] * int(x.shape[0]))
        time.sleep(self.bumper.sleep_s)
        return self.linear(x)


def history(model: Any) -> list[list[Any]]:
    """What a MeteredModel (or a copy of it) saw: [[input dtype, training, inference_mode, batch, weight dtype]]."""
    return [list(row) for row in model.seen]


def weight_dtype(model: Any) -> str:
    """The dtype of a MeteredModel's weight ("float32", ...), to see that a caller's model was left alone."""
    return str(model.linear.weight.dtype).removeprefix("torch.")


def gpu_busy(seconds: float) -> None:
    """Keep the GPU busy with matmuls for about ``seconds`` (real-GPU checks only)."""
    a = torch.randn(4096, 4096, device="cuda")
    torch.cuda.synchronize()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(10):
            a = (a @ a).tanh_()
        torch.cuda.synchronize()


class FakeClock:
    """A clock the tests advance by hand: ``clock()`` returns the current fake time in seconds."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += float(seconds)


class FakeNvml:
    """The ``pynvml`` names a GPU meter uses, on a pretend GPU whose counter and power the tests set.

    ``nvmlDeviceGetTotalEnergyConsumption`` returns ``energy_mj`` (raises ``NVMLError_NotSupported``, a
    subclass of ``NVMLError``, when ``supports_counter`` is False); ``nvmlDeviceGetPowerUsage`` returns
    ``power_mw``. Counts inits and shutdowns.
    """

    class NVMLError(Exception):
        """Base class of NVML errors, as in pynvml."""

    class NVMLError_NotSupported(NVMLError):  # noqa: N801 - pynvml's name
        """The GPU has no such counter (pre-Volta)."""

    def __init__(self, energy_mj: int = 0, power_mw: int = 0, supports_counter: bool = True) -> None:
        self.energy_mj, self.power_mw, self.supports_counter = int(energy_mj), int(power_mw), supports_counter
        self.inits = self.shutdowns = 0

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        self.inits += 1

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.shutdowns += 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> tuple[str, int]:  # noqa: N802
        if self.inits <= self.shutdowns:
            raise self.NVMLError("Uninitialized: call nvmlInit() first")
        return ("fake-gpu", int(index))

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:  # noqa: N802
        if not self.supports_counter:
            raise self.NVMLError_NotSupported("Not Supported")
        return self.energy_mj

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:  # noqa: N802
        return self.power_mw

    def set(self, energy_mj: int | None = None, power_mw: int | None = None) -> None:
        if energy_mj is not None:
            self.energy_mj = int(energy_mj)
        if power_mw is not None:
            self.power_mw = int(power_mw)


def counts(fake: FakeNvml) -> list[int]:
    """``[inits, shutdowns]`` of a FakeNvml."""
    return [fake.inits, fake.shutdowns]
