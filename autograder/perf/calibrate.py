"""`autograder calibrate SLUG`: how noisy is this machine for each time threshold, and what would be safe?

Runs the reference against itself ``runs`` times per time declaration, exactly as a graded check would, and
reports the distribution of the measured median ratios, the false-fail rate of the current thresholds (how
often a correct solution would lose points), and a proposal: ``full`` at the 99.5th percentile of the ratios
plus a stated margin, ``zero`` keeping the current spread between the two. The record is written next to the
spec (``calibration.json``) with the machine's fingerprint, so a TA can see where thresholds came from.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from autograder.perf import stats
from autograder.perf.measure import Measurer, fingerprint
from autograder.perf.pairs import worker_pair
from autograder.spec import AssignmentSpec

MARGIN = 0.05  # proposed full = p99.5 of self-ratios + 5 %


@dataclass
class Calibration:
    name: str
    ratios: list[float]
    seconds: list[float]
    full: float
    zero: float
    proposed_full: float
    proposed_zero: float

    @property
    def false_fail_rate(self) -> float:
        return sum(stats.credit(r, self.full, self.zero) < 1.0 for r in self.ratios) / len(self.ratios)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[position]


def calibrate(spec: AssignmentSpec, runs: int, progress: Callable[[str, int], None] | None = None) -> list[Calibration]:
    declarations = [d for d in spec.perf if d.metric == "time"]
    modules = sorted({spec.assignment_dir / "tests" / f"{d.inputs.rpartition('.')[0]}.py" for d in declarations})
    results = []
    assert spec.reference_dir is not None
    with worker_pair(spec.reference_dir, spec.reference_dir, modules) as (one, other):
        for declaration in declarations:
            ratios, seconds = [], []
            for run in range(runs):
                import time

                started = time.perf_counter()
                result = Measurer(declaration, one, other, seed=run).measure()
                seconds.append(time.perf_counter() - started)
                ratios.append(float(result.value or 0.0))
                if progress:
                    progress(declaration.name, run + 1)
            proposed_full = round(max(1.0, quantile(ratios, 0.995)) + MARGIN, 2)
            spread = declaration.zero - declaration.full
            results.append(Calibration(declaration.name, ratios, seconds, declaration.full, declaration.zero,
                                       proposed_full, round(proposed_full + spread, 2)))
    return results


def write_record(spec: AssignmentSpec, calibrations: list[Calibration]) -> Path:
    record: dict[str, Any] = {
        "assignment": spec.slug,
        "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": fingerprint(),
        "margin": MARGIN,
        "thresholds": {c.name: {"runs": len(c.ratios), "current": {"full": c.full, "zero": c.zero},
                                 "false_fail_rate": c.false_fail_rate,
                                 "ratio_quantiles": {q: quantile(c.ratios, float(q)) for q in ("0.0", "0.5", "0.95", "0.995", "1.0")},
                                 "proposed": {"full": c.proposed_full, "zero": c.proposed_zero},
                                 "seconds_per_check_median": stats.median(c.seconds),
                                 "ratios": [round(r, 4) for r in c.ratios]} for c in calibrations},
    }
    path = spec.assignment_dir / "calibration.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path
