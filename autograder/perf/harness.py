"""The ``perf`` fixture's machinery inside the runner: which two sides to compare, and scoring one test.

Graded runs compare the submission's worker with a reference worker of the same kind (same jail, its own
account so neither can read the other); a student's local ``check`` compares their module with the naive
baseline shipped in the starter, never the reference, and says that the graded comparison is against the
reference.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from autograder.perf.measure import Measurer, NotMeasurable, PerfDeclaration, PerfResult


class PerfHarness:
    """Holds the declarations and the two sides for one runner session."""

    def __init__(self, declarations: dict[str, PerfDeclaration], submission: Any, reference: Any,
                 reference_label: str, seed: int, closers: list[Any], note: str = "",
                 preview: dict[str, Any] | None = None) -> None:
        self.declarations, self.submission, self.reference = declarations, submission, reference
        self.reference_label, self.seed, self.closers, self.note = reference_label, seed, closers, note
        self.preview = preview  # a student's machine: the reference's recorded timings (autograder/perf/preview.py)

    @classmethod
    def from_config(cls, config: pytest.Config, state: dict[str, Any], pool: Any) -> "PerfHarness":
        option = config.getoption("--ag-perf", None)
        if option is None:
            pytest.skip("performance tests run only through `autograder grade` or `autograder check`")
        raw = json.loads(Path(option).read_text(encoding="utf-8"))
        declarations = {d["name"]: PerfDeclaration.from_json(d) for d in raw.get("declarations", [])}
        seed = int(state["seed"])
        if pool is not None:  # graded: two workers
            from autograder.isolation.proxy import WorkerPool, WorkerSettings
            from autograder.perf.sides import WorkerSide

            ref_pool = WorkerPool(WorkerSettings.from_json(raw["reference_worker"]))
            ref_pool.outside_test_s = pool.outside_test_s
            return cls(declarations, WorkerSide(pool, "submission"), WorkerSide(ref_pool, "reference"),
                       "the reference", seed, [ref_pool])
        from autograder.loading import PackageView
        from autograder.perf.preview import PREVIEW_FILE
        from autograder.perf.sides import LocalSide

        tests_dir = config.rootpath / "tests"
        student = PackageView(Path(config.getoption("--ag-submission")), label="submission")
        if (tests_dir / PREVIEW_FILE).is_file():  # timings of the reference, no solution code
            record = json.loads((tests_dir / PREVIEW_FILE).read_text(encoding="utf-8"))
            return cls(declarations, LocalSide(student, "submission", tests_dir), None, "the reference (estimated)",
                       seed, [], preview=record.get("thresholds", {}),
                       note="Preview only: your time here is compared with the reference's time on the course's "
                            "machine, scaled by a probe timed on both; expect it within about ±30 %. The graded "
                            "comparison runs both side by side on the grader.")
        baseline = raw.get("baseline_dir")
        if not baseline:
            pytest.skip("no timing record or naive baseline ships with this assignment, so there is nothing to compare "
                        "with here; performance is graded against the reference when you submit")
        naive = PackageView(Path(baseline), label="baseline", namespace="_autograder_baseline")
        return cls(declarations, LocalSide(student, "submission", tests_dir), LocalSide(naive, "baseline", tests_dir),
                   "the naive baseline", seed, [],
                   note="Preview only: here you are compared with the naive baseline shipped with the starter; "
                        "the graded comparison is against the reference solution, on the grader's machine.")

    def close(self) -> None:
        for closer in self.closers:
            closer.close()

    def device_for(self, declaration: PerfDeclaration) -> str:
        import torch

        return "cuda" if "cuda" in declaration.devices and torch.cuda.is_available() else "cpu"

    def measure(self, name: str, seed: int) -> PerfResult:
        if name not in self.declarations:
            known = ", ".join(sorted(self.declarations)) or "none"
            raise KeyError(f"no [perf.{name}] in assignment.toml (declared: {known})")
        declaration = self.declarations[name]
        if self.preview is not None:
            return self._preview(declaration)
        measurer = Measurer(declaration, self.submission, self.reference, device=self.device_for(declaration),
                            seed=seed, reference_label=self.reference_label)
        try:
            return measurer.measure()
        except NotMeasurable as exc:
            import pytest

            pytest.skip(str(exc))


    def _preview(self, declaration: PerfDeclaration) -> PerfResult:
        from autograder.perf import stats
        from autograder.perf.preview import estimate

        entry = self.preview.get(declaration.name) if self.preview is not None else None
        if declaration.metric != "time" or entry is None:
            pytest.skip(f"{declaration.metric.replace('_', ' ')} is compared with the reference only on the grader")
        ratio, rounds = estimate(declaration, self.submission, entry)
        credit = stats.credit(ratio, declaration.full, declaration.zero)
        line = (f"preview: about {ratio:.2f}× the reference's time (estimated from its timings on the course's machine; "
                f"{len(rounds)} rounds), full credit at ≤{declaration.full:g}×, none at ≥{declaration.zero:g}×: "
                f"{credit:.0%} of the points if the grader measured the same")
        return PerfResult(declaration.name, "time", credit, stats.verdict_of_credit(credit), line, ratio,
                          {"preview_rounds": rounds})


class TestPerf:
    """What a test holds: ``perf.check(name)`` measures, scores the test and reports the verdict line."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, harness: PerfHarness, record: dict[str, Any], weight: float | None) -> None:
        self.harness, self.record, self.weight = harness, record, weight

    def check(self, name: str) -> PerfResult:
        if self.weight is None:
            raise AssertionError(f"a perf test needs points: decorate it with @weight(N) (checking {name!r})")
        result = self.harness.measure(name, (self.harness.seed ^ zlib.crc32(name.encode())) & 0x7FFFFFFF)
        self.record["score"] = result.credit * self.weight
        line = result.line + (f"\n{self.harness.note}" if self.harness.note else "")
        self.record["perf"] = {"name": name, "line": line, "verdict": result.verdict, "credit": result.credit,
                               "value": result.value, "metric": result.metric, **result.extra}
        declaration = self.harness.declarations[name]
        if declaration.leaderboard and result.value is not None:
            self.record["leaderboard_column"] = declaration.leaderboard
            self.record["leaderboard_value"] = round(result.value, 4)
            self.record.setdefault("leaderboard_order", "asc")
        return result
