"""A student's local preview of the time thresholds, with no solution code shipped.

The graded comparison is against the reference, on the grader. A student has neither, and shipping a working
"naive baseline" gave away graded functions. Instead the staff's machine records, once (``autograder
calibrate``), the reference's time per call for every time threshold and the time of a fixed *probe* (a
256×256 float32 matmul, one thread, timed by ``torch.utils.benchmark``), measured round by round beside each
other, into ``tests/perf_preview.json`` (shipped with the public tests: timings only). On the student's machine
the preview times their function the same way, times the probe in every round too, and estimates

    ratio = (their time per call) / (reference time per call on the staff machine × probe here / probe there)

The probe scales machine speed, not the shape of the work: a laptop whose matmuls are fast but whose Python is
slow (or the reverse) moves the estimate. Measured here by previewing the reference against its own record
(tests/test_perf_preview.py), and said in the handout: expect the preview within about ±30 %.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

from autograder.perf import stats
from autograder.perf.declaration import PerfDeclaration

PREVIEW_FILE = "perf_preview.json"
ROUNDS = 7


def probe_seconds() -> float:
    """Median time of one 256×256 float32 matmul on one thread here."""
    import torch
    from torch.utils.benchmark import Timer

    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 256, generator=generator), torch.randn(256, 256, generator=generator)
    return float(Timer("a @ b", globals={"a": a, "b": b}, num_threads=1).blocked_autorange(min_run_time=0.05).median)


def per_call_rounds(side: Any, decl: PerfDeclaration, device: str, rounds: int = ROUNDS, seed: int = 0) -> list[tuple[float, float]]:
    """``(CPU seconds per call of the side's function, probe seconds)`` for each round, measured alternately.

    One untimed call first (first-call costs, torch.compile); then the batch grows until it lasts
    ``min_batch_ms`` of CPU time, so the process clock's resolution does not matter.
    """
    side.prepare(decl.function, decl.inputs, decl.size, seed, device, decl.threads)
    side.run(seed + 1, 1)
    iterations, samples = 1, []
    while len(samples) < rounds:
        side.prepare(decl.function, decl.inputs, decl.size, seed, device, decl.threads)
        started = time.process_time()
        side.run(seed + 2 + len(samples), iterations)
        elapsed = time.process_time() - started
        if elapsed * 1000 < decl.min_batch_ms and iterations < 100_000:
            iterations *= 2
            continue
        samples.append((elapsed / iterations, probe_seconds()))
    return samples


def record(spec: Any, reference_side: Any, path: Path | None = None) -> Path:
    """Measure the reference beside the probe for every time threshold and write the record students get."""
    from autograder.perf.measure import fingerprint

    thresholds: dict[str, Any] = {}
    for decl in spec.perf:
        if decl.metric != "time":
            continue
        rounds = per_call_rounds(reference_side, decl, "cpu")
        thresholds[decl.name] = {"reference_s_per_call": stats.median([r for r, _ in rounds]),
                                 "probe_s": stats.median([p for _, p in rounds])}
    path = path or spec.assignment_dir / "tests" / PREVIEW_FILE
    path.write_text(json.dumps({
        "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": fingerprint(), "probe": "256x256 float32 matmul, 1 thread (torch.utils.benchmark)",
        "thresholds": thresholds}, indent=2) + "\n", encoding="utf-8")
    return path


def estimate(decl: PerfDeclaration, side: Any, entry: dict[str, Any]) -> tuple[float, list[float]]:
    """The estimated ratio of the side's time to the reference's (median over rounds), and every round's."""
    ratios = [per_call / (entry["reference_s_per_call"] * probe / entry["probe_s"])
              for per_call, probe in per_call_rounds(side, decl, "cpu")]
    return stats.median(ratios), ratios
