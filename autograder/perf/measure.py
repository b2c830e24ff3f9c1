"""Runner side of performance thresholds: measure a submission side by side with a reference.

Both sides are the same kind of thing (two workers with the same jail and thread count when grading; two
in-process module views in a student's local preview) behind the :class:`Side` interface. For time, rounds
are interleaved (AB, BA, AB, ...) after an untimed warm-up that absorbs first-call and torch.compile costs.
Each round builds its model from one seed (untimed ``prepare``) and draws its data from a second seed that
travels only in the timed request (autograder/perf/batch.py), so nothing can be computed ahead; both sides'
output digests must agree. Seeds come from the OS, so the student's process cannot predict them.

A batch's time is its **on-CPU time read by the runner** from /proc for every thread of the worker
(autograder/perf/watch.py), not wall time: under a CFS quota (Gradescope's 0.5 CPU) a throttled worker is
stopped for the rest of each 100 ms period, and wall-clock batches caught those gaps unevenly (the reference
read 0.35× itself). On a GPU the batch's wall time is used (the device's work is not CPU time). The cost of
drawing the data, measured in the reference's worker, is subtracted from both sides.

The statistic is the median per-round ratio with a bootstrap interval; rounds continue while the interval
leaves the credit uncertain, within a time budget. Peak memory, FLOPs and scaling exponents use the same sides.
During a measurement each worker places itself on the check's CPUs and the runner verifies the placement and
that no other process of the student's account exists (watch.py); both mallocs are put in the same fixed
state (autograder/perf/allocator.py). Measured here, unpinned workers and malloc's history each made a
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
from autograder.perf.declaration import PerfDeclaration
from autograder.perf.watch import Refused, Watch, precise


class NotMeasurable(Exception):
    """This metric cannot be measured with these sides (e.g. peak memory of two sides in one process); the
    caller decides what that means for a test (the harness skips it). The engine itself knows no pytest."""


class Side(Protocol):
    label: str

    def prepare(self, function: str, inputs: str, size: int, seed: int, device: str, threads: int) -> None: ...

    def run(self, seed: int, iterations: int) -> list[float]: ...

    def generate(self, seed: int, iterations: int) -> int: ...

    def flops(self, function: str, inputs: str, size: int, seed: int, device: str) -> int: ...

    def pid(self) -> int: ...

    def place(self, cpus: list[int]) -> list[int]: ...

    def watch(self, strict: bool) -> Watch: ...

    def allocator(self, mode: str) -> None: ...

    def cuda_peak_bytes(self) -> int | None: ...


class Unfair(Exception):
    """The submission's measurement cannot be compared with the reference's; the test earns nothing."""


class DigestMismatch(Unfair):
    """The submission's outputs on the timed inputs differ from the reference's."""


class TooManyCpus(Unfair):
    """The submission kept more CPUs busy than the declaration's thread count."""


class Outside(Unfair):
    """What the runner read from /proc about the submission's processes makes its time meaningless."""


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
    return all(math.isclose(x, y, rel_tol=rtol, abs_tol=rtol * 10) for x, y in zip(a, b))  # NaN never agrees


def _credit_text(decl: PerfDeclaration, unit: str) -> str:
    better = "≤" if decl.full <= decl.zero else "≥"
    worse = "≥" if decl.full <= decl.zero else "≤"
    return f"full credit at {better}{decl.full:g}{unit}, none at {worse}{decl.zero:g}{unit}"


IDLE_BREACHES_REFUSED = 3  # reference batches with the submission's worker busy before the check is refused


class Measurer:
    """Runs one declaration against two sides.

    ``seed`` is kept for callers and recorded; the seeds of the inputs come from the OS (see the module doc).
    """

    def __init__(self, decl: PerfDeclaration, submission: Side, reference: Side, *, device: str = "cpu",
                 seed: int | None = None, reference_label: str = "the reference") -> None:
        self.decl, self.sub, self.ref, self.device = decl, submission, reference, device
        self.rng = random.SystemRandom()
        self.seed = seed
        self.reference_label = reference_label
        # on-CPU time; a GPU's work is only in wall time, and a kernel without schedstat counts in 10 ms ticks
        self.cpu_clock = not device.startswith("cuda") and precise()
        self.sub_cpu_s = 0.0  # on-CPU time of the submission's worker in timed batches
        self.sub_wall_s = 0.0  # their wall time
        self.sub_batches = 0
        self.idle_breaches: list[str] = []  # reference batches during which the submission's worker used CPU
        self.generation_s = 0.0  # what drawing one batch's data costs (reference's worker), subtracted
        self.sub_watch: Watch | None = None
        self.ref_watch: Watch | None = None

    def measure(self) -> PerfResult:
        method = {"time": self.time, "peak_memory": self.peak_memory, "flops": self.flops, "scaling": self.scaling}
        if self.decl.metric not in method:
            raise ValueError(f"unknown metric {self.decl.metric!r}")
        wanted = sorted(cpus.shared_cpus(self.decl.threads))
        self.sub_watch, self.ref_watch = self.sub.watch(True), self.ref.watch(False)
        placement: dict[str, Any] = {"cpus": wanted, "how": self.sub_watch.HOW, "pinned": False}
        restore: list[tuple[Side, list[int]]] = []
        try:
            try:
                for side in (self.sub, self.ref):
                    restore.append((side, side.place(wanted)))
                placement["pinned"] = self._start_watches(wanted)
                result = method[self.decl.metric]()
                placement["outside"] = self.sub_watch.finish()
            except Refused as exc:
                raise Outside(str(exc)) from None
        except Unfair as exc:
            result = PerfResult(self.decl.name, self.decl.metric, 0.0, stats.FAIL, str(exc))
        finally:
            for side, previous in reversed(restore):
                try:
                    side.place(previous)
                except Exception:  # noqa: BLE001 - a lost worker needs no placement back
                    pass
        result.extra["placement"] = placement
        result.extra["clock"] = "on-CPU time (/proc schedstat)" if self.cpu_clock else \
            "wall time (GPU)" if self.device.startswith("cuda") else "wall time (no schedstat on this kernel)"
        result.extra["fingerprint"] = fingerprint()
        result.extra["threads"] = self.decl.threads
        result.extra["device"] = self.device
        if self.idle_breaches:  # for staff: single rounds in which the submission's worker was not idle
            result.extra["idle_breaches"] = list(self.idle_breaches)
        return result

    def _start_watches(self, wanted: list[int]) -> bool:
        """Baselines for both sides; True when the runner saw both placed on ``wanted``."""
        assert self.sub_watch is not None and self.ref_watch is not None
        self.sub_watch.start(wanted)
        self.ref_watch.start(wanted)
        sub_now, ref_now = self.sub_watch.batch(), self.ref_watch.batch()
        problem = self.sub_watch.check_placement(sub_now, sub_now)
        if problem and self.sub_watch.strict:
            raise Refused(f"Your code's process did not stay on the CPU the grader gave it ({problem}), so its "
                          "time cannot be compared. Don't change CPU affinity; the reference runs under the same "
                          "placement.")
        return problem is None and self.ref_watch.check_placement(ref_now, ref_now) is None

    # ---------------------------------------------------------------- shared steps
    def _seed(self) -> int:
        return self.rng.getrandbits(31)

    def _prepare_both(self, seed: int, size: int) -> None:
        for side in (self.sub, self.ref):
            side.prepare(self.decl.function, self.decl.inputs, size, seed, self.device, self.decl.threads)

    def _timed(self, side: Side, seed: int, iterations: int) -> tuple[float, float, list[float]]:
        """Run one batch; return (its time: on-CPU or wall, its wall time, the digest)."""
        watch = self.sub_watch if side is self.sub else self.ref_watch
        assert watch is not None
        before = watch.batch()
        start = time.perf_counter()
        digest = side.run(seed, iterations)
        wall = time.perf_counter() - start
        after = watch.batch()
        problem = watch.check_placement(before, after)
        if problem and watch.strict:
            raise Refused(f"Your code left the CPU the grader gave it while it was timed ({problem}). Don't "
                          "change CPU affinity in your code; the reference runs on the same CPU.")
        cpu_s = watch.elapsed_ns(before, after) / 1e9
        return (cpu_s if self.cpu_clock else wall), wall, digest

    def _timed_submission(self, seed: int, iterations: int) -> tuple[float, float, list[float]]:
        elapsed, wall, digest = self._timed(self.sub, seed, iterations)
        self.sub_cpu_s += elapsed if self.cpu_clock else 0.0
        self.sub_wall_s += wall
        self.sub_batches += 1
        return elapsed, wall, digest

    def _timed_reference(self, seed: int, iterations: int) -> tuple[float, float, list[float]]:
        """Time the reference's batch; the submission's worker must stay idle meanwhile."""
        assert self.sub_watch is not None
        before = self.sub_watch.batch()
        result = self._timed(self.ref, seed, iterations)
        busy_s = self.sub_watch.elapsed_ns(before, self.sub_watch.batch()) / 1e9
        if self.sub_watch.strict and self.cpu_clock and busy_s > 0.002 + 0.02 * result[0]:
            # One breach can be the honest worker finishing its reply on a throttled CPU (seen once in 150 A/A
            # checks at a 0.5-CPU quota: 3 ms beside a 21 ms batch). The reference's on-CPU time is its own
            # either way, so only a pattern is refused: work left running after return shows in every round.
            self.idle_breaches.append(f"{busy_s * 1000:.0f} ms of CPU while the reference was being timed "
                                      f"({result[0] * 1000:.0f} ms)")
            if len(self.idle_breaches) >= IDLE_BREACHES_REFUSED:
                raise Refused(
                    f"Your code's process used CPU while the reference was being timed, where it should have been "
                    f"waiting, in {len(self.idle_breaches)} rounds (latest: {self.idle_breaches[-1]}). Don't leave "
                    "threads running after your function returns.")
        return result

    def _check_cpus(self) -> None:
        """Refuse a submission that kept more CPUs busy than it was given (on-CPU time read from /proc)."""
        if not self.cpu_clock or not self.sub_batches or not self.sub_wall_s or not self.sub_watch.strict:
            return
        busy = self.sub_cpu_s / self.sub_wall_s
        if busy > cpus.busy_limit(self.decl.threads):
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
        """Warm up (untimed), grow the batch until the reference's lasts min_batch_ms, then measure what
        drawing a batch's data costs in the reference's worker (subtracted from both sides' times)."""
        seed, data = self._seed(), self._seed()
        self._prepare_both(seed, size)
        self._check(self._timed(self.sub, data, 1)[2], self._timed(self.ref, data, 1)[2], data)  # warm-up
        iterations = 1
        while iterations < 4096:
            self.ref.prepare(self.decl.function, self.decl.inputs, size, self._seed(), self.device, self.decl.threads)
            elapsed, _, _ = self._timed(self.ref, self._seed(), iterations)
            if elapsed * 1000 >= self.decl.min_batch_ms:
                break
            iterations = min(4096, max(iterations * 2, int(iterations * self.decl.min_batch_ms / max(elapsed * 1000, 1e-3))))
        self.generation_s = stats.median([self._generation(size, iterations) for _ in range(5)])
        return iterations

    def _generation(self, size: int, iterations: int) -> float:
        """Time (on the batch clock) the reference's worker takes to draw one batch's data and nothing else."""
        assert self.ref_watch is not None
        self.ref.prepare(self.decl.function, self.decl.inputs, size, self._seed(), self.device, self.decl.threads)
        before, start = self.ref_watch.batch(), time.perf_counter()
        self.ref.generate(self._seed(), iterations)
        wall = time.perf_counter() - start
        return self.ref_watch.elapsed_ns(before, self.ref_watch.batch()) / 1e9 if self.cpu_clock else wall

    def _net(self, elapsed: float) -> float:
        """A batch's time less the cost of drawing its data (never below 2 % of the batch)."""
        return max(elapsed - self.generation_s, 0.02 * elapsed)

    def _rounds(self, size: int, iterations: int, budget_s: float, rounds_wanted: int | None = None) -> dict[str, list]:
        samples: dict[str, list] = {"sub_s": [], "ref_s": [], "ratio": [], "seed": [], "order": [],
                                    "sub_wall_s": [], "ref_wall_s": []}
        assert self.sub_watch is not None
        started = time.monotonic()
        while True:
            data = self._seed()
            self._prepare_both(self._seed(), size)
            order = "AB" if len(samples["seed"]) % 2 == 0 else "BA"
            timings = {}
            for who in order:
                timings[who] = self._timed_submission(data, iterations) if who == "A" else \
                    self._timed_reference(data, iterations)
            self.sub_watch.end_round()
            self._check(timings["A"][2], timings["B"][2], data)
            sub_s, ref_s = self._net(timings["A"][0]), self._net(timings["B"][0])
            samples["sub_s"].append(sub_s)
            samples["ref_s"].append(ref_s)
            samples["ratio"].append(sub_s / ref_s)
            samples["sub_wall_s"].append(timings["A"][1])
            samples["ref_wall_s"].append(timings["B"][1])
            samples["seed"].append(data)
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
        extra = {"estimate": estimate.__dict__, "iterations_per_batch": iterations, "size": self.decl.size,
                 "input_generation_s": self.generation_s, **samples}
        return PerfResult(self.decl.name, "time", credit, verdict, line, estimate.median, extra)

    def peak_memory(self) -> PerfResult:
        if self.sub.pid() == self.ref.pid() and not self.device.startswith("cuda"):
            raise NotMeasurable("peak memory is compared only on the grader, where each side has a process of its own")
        peaks: dict[str, list[int]] = {"sub": [], "ref": [], "inputs": []}
        seeds = []
        cuda = self.device.startswith("cuda")
        self._set_allocator("exact")
        assert self.sub_watch is not None
        for _ in range(max(3, min(self.decl.min_rounds, 5))):
            data = self._seed()
            seeds.append(data)
            self._prepare_both(self._seed(), self.decl.size)
            # what drawing the call's data costs, in the reference's worker: subtracted from both peaks
            peaks["inputs"].append(self._peak(self.ref, cuda, lambda: self.ref.generate(data, 1)))
            digests: dict[str, list[float]] = {}
            for key, side in (("sub", self.sub), ("ref", self.ref)):
                peaks[key].append(self._peak(side, cuda, lambda s=side, k=key: digests.__setitem__(k, s.run(data, 1))))
            self.sub_watch.end_round()
            self._check(digests["sub"], digests["ref"], data)
        floor = 1 << 20  # 1 MiB: below this, allocator noise dominates
        inputs = stats.median(peaks["inputs"])
        sub, ref = (max(stats.median(peaks[key]) - inputs, 0) for key in ("sub", "ref"))
        ratio = max(sub, floor) / max(ref, floor)
        credit = stats.credit(ratio, self.decl.full, self.decl.zero)
        line = (f"peak memory {sub / 2**20:.1f} MiB vs {ref / 2**20:.1f} MiB for {self.reference_label} "
                f"({ratio:.2f}×), {_credit_text(self.decl, '×')}: {credit:.0%} of the points")
        verdict = stats.verdict_of_credit(credit)
        return PerfResult(self.decl.name, "peak_memory", credit, verdict, line, ratio,
                          {"sub_bytes": peaks["sub"], "ref_bytes": peaks["ref"], "input_bytes": peaks["inputs"],
                           "seed": seeds, "size": self.decl.size})

    @staticmethod
    def _peak(side: Side, cuda: bool, action: Any) -> int:
        """Peak memory of ``side`` during ``action``: VmHWM read by the runner, or the GPU's peak allocation."""
        if cuda:
            action()
            return side.cuda_peak_bytes() or 0
        reset_peak_rss(side.pid())
        baseline = peak_rss(side.pid())
        action()
        return max(peak_rss(side.pid()) - baseline, 0)

    def flops(self) -> PerfResult:
        seed = self._seed()
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
