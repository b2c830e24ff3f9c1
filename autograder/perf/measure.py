"""Runner side of performance thresholds: measure a submission side by side with a reference.

Both sides are the same kind of thing (two workers with the same jail and thread count when grading; two
in-process module views in a student's local preview) behind the :class:`Side` interface. For time, rounds
are interleaved (AB, BA, AB, ...), each on fresh inputs from a per-round seed, after an untimed warm-up that
absorbs first-call and torch.compile costs; the runner's clock times each batch; both sides' output digests
must agree. The statistic is the median per-round ratio with a bootstrap interval; rounds continue while the
interval leaves the credit uncertain, within a time budget. Peak memory, FLOPs and scaling exponents use the
same sides. During a measurement both sides are pinned to the same CPUs and their mallocs are put in the same
fixed state (autograder/perf/cpus.py, autograder/perf/allocator.py): measured here, each of the two made a
reference-vs-itself check drift by up to 20 %.
"""

from __future__ import annotations

import math
import os
import platform
import random
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from autograder.perf import cpus, stats


@dataclass(frozen=True)
class PerfDeclaration:
    """One ``[perf.NAME]`` table of assignment.toml (see docs/performance.md)."""

    name: str
    metric: str                      # time | peak_memory | flops | scaling
    function: str                    # module.function, looked up on both sides
    inputs: str                      # perf_inputs.generator (tests/perf_inputs.py)
    size: int = 64
    sizes: tuple[int, ...] = ()
    full: float = 1.25               # ratio (or exponent) at or below which the test earns full credit
    zero: float = 2.0                # ratio (or exponent) at or above which it earns none
    threads: int = 1
    devices: tuple[str, ...] = ("cpu",)
    leaderboard: str | None = None
    min_batch_ms: float = 20.0
    max_seconds: float = 30.0
    min_rounds: int = 10
    max_rounds: int = 80
    rtol: float = 1e-3

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["sizes"], data["devices"] = list(self.sizes), list(self.devices)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PerfDeclaration":
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["sizes"], values["devices"] = tuple(values.get("sizes", ())), tuple(values.get("devices", ("cpu",)))
        return cls(**values)


class Side(Protocol):
    label: str

    def prepare(self, function: str, inputs: str, size: int, seed: int, iterations: int, device: str,
                threads: int) -> int: ...

    def run(self) -> list[float]: ...

    def flops(self, function: str, inputs: str, size: int, seed: int, device: str) -> int: ...

    def pid(self) -> int: ...

    def allocator(self, mode: str) -> None: ...

    def cpu_seconds(self) -> float | None: ...

    def cuda_peak_bytes(self) -> int | None: ...


class Unfair(Exception):
    """The submission's measurement cannot be compared with the reference's; the test earns nothing."""


class DigestMismatch(Unfair):
    """The submission's outputs on the timed inputs differ from the reference's."""


class TooManyCpus(Unfair):
    """The submission kept more CPUs busy than the declaration's thread count."""


@dataclass
class PerfResult:
    """What a perf test reports: the credit, the student's one-line verdict and the audit trail."""

    name: str
    metric: str
    credit: float
    verdict: str
    line: str
    value: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def fingerprint() -> dict[str, Any]:
    """Where the numbers were measured, for audits of a regrade."""
    info: dict[str, Any] = {"cpu": platform.processor() or "", "cores": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), info["cpu"])
    except OSError:
        pass
    import torch

    info["torch"] = torch.__version__
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        try:
            with open("/proc/driver/nvidia/version", encoding="ascii", errors="replace") as driver:
                info["driver"] = driver.readline().strip()
        except OSError:
            pass
    return info


def _agree(a: list[float], b: list[float], rtol: float) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if not (math.isfinite(x) and math.isfinite(y)) and not (math.isnan(x) and math.isnan(y)) and x != y:
            return False
        if not math.isclose(x, y, rel_tol=rtol, abs_tol=rtol * 10):
            return False
    return True


def _credit_text(decl: PerfDeclaration, unit: str) -> str:
    better = "≤" if decl.full <= decl.zero else "≥"
    worse = "≥" if decl.full <= decl.zero else "≤"
    return f"full credit at {better}{decl.full:g}{unit}, none at {worse}{decl.zero:g}{unit}"


class Measurer:
    """Runs one declaration against two sides."""

    def __init__(self, decl: PerfDeclaration, submission: Side, reference: Side, *, device: str = "cpu",
                 seed: int | None = None, reference_label: str = "the reference") -> None:
        self.decl, self.sub, self.ref, self.device = decl, submission, reference, device
        self.rng = random.Random(seed)
        self.reference_label = reference_label
        self.sub_cpu_s: float | None = 0.0  # CPU time the submission's worker used in timed batches (None: unknown)
        self.sub_wall_s = 0.0               # their wall time
        self.sub_batches = 0

    def measure(self) -> PerfResult:
        method = {"time": self.time, "peak_memory": self.peak_memory, "flops": self.flops, "scaling": self.scaling}
        if self.decl.metric not in method:
            raise ValueError(f"unknown metric {self.decl.metric!r}")
        with cpus.pinned_together([self.sub.pid(), self.ref.pid()], self.decl.threads) as placement:
            try:
                result = method[self.decl.metric]()
            except Unfair as exc:
                result = PerfResult(self.decl.name, self.decl.metric, 0.0, stats.FAIL, str(exc))
        result.extra["placement"] = placement
        result.extra["fingerprint"] = fingerprint()
        result.extra["threads"] = self.decl.threads
        result.extra["device"] = self.device
        return result

    # ---------------------------------------------------------------- shared steps
    def _prepare_both(self, seed: int, iterations: int, size: int) -> None:
        for side in (self.sub, self.ref):
            side.prepare(self.decl.function, self.decl.inputs, size, seed, iterations, self.device, self.decl.threads)

    def _timed(self, side: Side) -> tuple[float, list[float]]:
        start = time.perf_counter()
        digest = side.run()
        return time.perf_counter() - start, digest

    def _timed_submission(self) -> tuple[float, list[float]]:
        """Time the submission's batch and add up the CPU time its worker spent meanwhile."""
        before = self.sub.cpu_seconds()
        elapsed, digest = self._timed(self.sub)
        after = self.sub.cpu_seconds()
        if before is None or after is None or self.sub_cpu_s is None:
            self.sub_cpu_s = None  # e.g. a local preview: nothing to check
            return elapsed, digest
        self.sub_cpu_s += after - before
        self.sub_wall_s += elapsed
        self.sub_batches += 1
        return elapsed, digest

    def _check_cpus(self) -> None:
        """Refuse a submission that kept more CPUs busy than it was given (measured by the runner, /proc)."""
        if self.sub_cpu_s is None or not self.sub_batches or self.device.startswith("cuda"):
            return
        busy = self.sub_cpu_s / self.sub_wall_s
        if busy > cpus.busy_limit(self.decl.threads, self.sub_batches, self.sub_wall_s):
            name = self.decl.function.rpartition(".")[2]
            raise TooManyCpus(
                f"Your {name} kept {busy:.1f} CPU cores busy on average while it was timed, but this comparison "
                f"gives each side {self.decl.threads} thread(s). Don't change torch's thread count, start threads "
                "or processes, or change CPU affinity in timed code; the reference runs under the same limit.")

    def _set_allocator(self, mode: str) -> None:
        for side in (self.sub, self.ref):
            side.allocator(mode)

    def _check(self, sub_digest: list[float], ref_digest: list[float], seed: int) -> None:
        if not _agree(sub_digest, ref_digest, self.decl.rtol):
            raise DigestMismatch(
                f"Your {self.decl.function.rpartition('.')[2]} returned different values from {self.reference_label} "
                f"on the timed inputs (round seed {seed}), so its time cannot be compared. Every call must compute "
                "its result from its own inputs: no caching across calls, no skipped work, no work left running "
                "after returning.")

    def _iterations(self, size: int) -> int:
        """Warm up (untimed), then grow the batch until the reference's batch lasts min_batch_ms."""
        seed = self.rng.getrandbits(31)
        self._prepare_both(seed, 1, size)
        self._check(self._timed(self.sub)[1], self._timed(self.ref)[1], seed)  # warm-up: first call, compile
        iterations = 1
        while iterations < 4096:
            self.ref.prepare(self.decl.function, self.decl.inputs, size, seed, iterations, self.device, self.decl.threads)
            elapsed, _ = self._timed(self.ref)
            if elapsed * 1000 >= self.decl.min_batch_ms:
                break
            iterations = min(4096, max(iterations * 2, int(iterations * self.decl.min_batch_ms / max(elapsed * 1000, 1e-3))))
        return iterations

    def _rounds(self, size: int, iterations: int, budget_s: float, rounds_wanted: int | None = None) -> dict[str, list]:
        samples: dict[str, list] = {"sub_s": [], "ref_s": [], "ratio": [], "seed": [], "order": []}
        started = time.monotonic()
        while True:
            seed = self.rng.getrandbits(31)
            self._prepare_both(seed, iterations, size)
            order = "AB" if len(samples["seed"]) % 2 == 0 else "BA"
            timings = {}
            for who in order:
                timings[who] = self._timed_submission() if who == "A" else self._timed(self.ref)
            self._check(timings["A"][1], timings["B"][1], seed)
            samples["sub_s"].append(timings["A"][0])
            samples["ref_s"].append(timings["B"][0])
            samples["ratio"].append(timings["A"][0] / timings["B"][0])
            samples["seed"].append(seed)
            samples["order"].append(order)
            n = len(samples["ratio"])
            if rounds_wanted is not None:
                if n >= rounds_wanted:
                    return samples
                continue
            if n >= self.decl.min_rounds:
                estimate = stats.estimate_ratio(samples["ratio"])
                out_of_time = time.monotonic() - started > budget_s
                if stats.verdict(estimate, self.decl.full, self.decl.zero) != stats.INCONCLUSIVE or out_of_time \
                        or n >= self.decl.max_rounds:
                    return samples

    # ---------------------------------------------------------------- metrics
    def time(self) -> PerfResult:
        self._set_allocator("steady")
        iterations = self._iterations(self.decl.size)
        samples = self._rounds(self.decl.size, iterations, self.decl.max_seconds)
        self._check_cpus()
        estimate = stats.estimate_ratio(samples["ratio"])
        verdict = stats.verdict(estimate, self.decl.full, self.decl.zero)
        credit = stats.credit(estimate.median, self.decl.full, self.decl.zero)
        line = (f"{estimate.median:.2f}× the time of {self.reference_label} "
                f"({estimate.confidence:.0%} CI {estimate.low:.2f}–{estimate.high:.2f}, {estimate.rounds} rounds), "
                f"{_credit_text(self.decl, '×')}: {credit:.0%} of the points"
                + (" (still uncertain when the time budget ran out)" if verdict == stats.INCONCLUSIVE else ""))
        extra = {"estimate": estimate.__dict__, "iterations_per_batch": iterations, "size": self.decl.size, **samples}
        return PerfResult(self.decl.name, "time", credit, verdict, line, estimate.median, extra)

    def peak_memory(self) -> PerfResult:
        if self.sub.pid() == self.ref.pid() and not self.device.startswith("cuda"):
            import pytest

            pytest.skip("peak memory is compared only on the grader, where each side has a process of its own")
        peaks: dict[str, list[int]] = {"sub": [], "ref": []}
        seeds = []
        self._set_allocator("exact")
        for _ in range(max(3, min(self.decl.min_rounds, 5))):
            seed = self.rng.getrandbits(31)
            seeds.append(seed)
            self._prepare_both(seed, 1, self.decl.size)
            digests = {}
            for key, side in (("sub", self.sub), ("ref", self.ref)):
                cuda = self.device.startswith("cuda")
                if not cuda:
                    reset_peak_rss(side.pid())
                    baseline = peak_rss(side.pid())
                _, digests[key] = self._timed(side)
                peaks[key].append((side.cuda_peak_bytes() or 0) if cuda else max(peak_rss(side.pid()) - baseline, 0))
            self._check(digests["sub"], digests["ref"], seed)
        floor = 1 << 20  # 1 MiB: below this, allocator noise dominates
        sub, ref = stats.median(peaks["sub"]), stats.median(peaks["ref"])
        ratio = max(sub, floor) / max(ref, floor)
        credit = stats.credit(ratio, self.decl.full, self.decl.zero)
        line = (f"peak memory {sub / 2**20:.1f} MiB vs {ref / 2**20:.1f} MiB for {self.reference_label} "
                f"({ratio:.2f}×), {_credit_text(self.decl, '×')}: {credit:.0%} of the points")
        verdict = stats.verdict_of_credit(credit)
        return PerfResult(self.decl.name, "peak_memory", credit, verdict, line, ratio,
                          {"sub_bytes": peaks["sub"], "ref_bytes": peaks["ref"], "seed": seeds, "size": self.decl.size})

    def flops(self) -> PerfResult:
        seed = self.rng.getrandbits(31)
        sub = self.sub.flops(self.decl.function, self.decl.inputs, self.decl.size, seed, self.device)
        ref = self.ref.flops(self.decl.function, self.decl.inputs, self.decl.size, seed, self.device)
        ratio = sub / ref if ref else (1.0 if sub == 0 else math.inf)
        credit = stats.credit(ratio, self.decl.full, self.decl.zero)
        line = (f"{sub:,} FLOPs vs {ref:,} for {self.reference_label} ({ratio:.2f}×), "
                f"{_credit_text(self.decl, '×')}: {credit:.0%} of the points")
        verdict = stats.verdict_of_credit(credit)
        return PerfResult(self.decl.name, "flops", credit, verdict, line, ratio,
                          {"sub_flops": sub, "ref_flops": ref, "seed": seed, "size": self.decl.size})

    def scaling(self) -> PerfResult:
        sizes = list(self.decl.sizes)
        per_call: dict[str, list[float]] = {"sub": [], "ref": []}
        self._set_allocator("steady")
        for size in sizes:
            iterations = self._iterations(size)
            samples = self._rounds(size, iterations, self.decl.max_seconds / len(sizes), rounds_wanted=5)
            per_call["sub"].append(stats.median(samples["sub_s"]) / iterations)
            per_call["ref"].append(stats.median(samples["ref_s"]) / iterations)
        self._check_cpus()
        slope, r2 = stats.scaling_exponent(sizes, per_call["sub"])
        ref_slope, _ = stats.scaling_exponent(sizes, per_call["ref"])
        credit = stats.credit(slope, self.decl.full, self.decl.zero)
        line = (f"time grows like size^{slope:.2f} (R² {r2:.2f}; {self.reference_label}: size^{ref_slope:.2f}) over sizes "
                f"{sizes}, {_credit_text(self.decl, '')} in the exponent: {credit:.0%} of the points")
        verdict = stats.verdict_of_credit(credit)
        return PerfResult(self.decl.name, "scaling", credit, verdict, line, slope,
                          {"sizes": sizes, "sub_s_per_call": per_call["sub"], "ref_s_per_call": per_call["ref"],
                           "r2": r2, "reference_exponent": ref_slope})


def peak_rss(pid: int) -> int:
    """VmHWM of ``pid`` in bytes, read by the runner from /proc (the worker cannot fake it)."""
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def reset_peak_rss(pid: int) -> None:
    """Reset the peak to the current RSS (Linux ≥ 4.0, ``clear_refs`` value 5)."""
    with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")
