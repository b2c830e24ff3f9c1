"""The statistics behind performance verdicts, and the [perf.*] tables of the spec."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from autograder.errors import SpecError
from autograder.layout import CourseLayout
from autograder.perf import stats
from autograder.spec import load_spec

REPO = Path(__file__).resolve().parents[1]


def test_median_and_bootstrap_interval() -> None:
    rng = random.Random(1)
    ratios = [1.1 + rng.gauss(0, 0.02) for _ in range(40)]
    estimate = stats.estimate_ratio(ratios)
    assert estimate.low <= estimate.median <= estimate.high
    assert abs(estimate.median - 1.1) < 0.02
    assert estimate.high - estimate.low < 0.05
    assert stats.estimate_ratio(ratios) == estimate  # seeded: reproducible


def test_wider_noise_gives_wider_interval() -> None:
    rng = random.Random(2)
    tight = stats.estimate_ratio([1 + rng.gauss(0, 0.01) for _ in range(30)])
    loose = stats.estimate_ratio([1 + rng.gauss(0, 0.2) for _ in range(30)])
    assert loose.high - loose.low > 3 * (tight.high - tight.low)


@pytest.mark.parametrize("ratio, expected", [(0.5, 1.0), (1.25, 1.0), (1.625, 0.5), (2.0, 0.0), (9.0, 0.0)])
def test_credit_curve(ratio: float, expected: float) -> None:
    assert stats.credit(ratio, 1.25, 2.0) == pytest.approx(expected)


def test_credit_curve_for_bigger_is_better() -> None:
    assert stats.credit(3.0, 2.0, 1.0) == 1.0 and stats.credit(1.5, 2.0, 1.0) == pytest.approx(0.5)
    assert stats.credit(0.9, 2.0, 1.0) == 0.0


def test_verdicts() -> None:
    def estimate(low: float, mid: float, high: float) -> stats.RatioEstimate:
        return stats.RatioEstimate(mid, low, high, 20, 0.95)
    assert stats.verdict(estimate(1.0, 1.02, 1.05), 1.25, 2.0) == stats.PASS
    assert stats.verdict(estimate(2.1, 2.3, 2.5), 1.25, 2.0) == stats.FAIL
    assert stats.verdict(estimate(1.61, 1.62, 1.63), 1.25, 2.0) == stats.PARTIAL
    assert stats.verdict(estimate(1.15, 1.25, 1.40), 1.25, 2.0) == stats.INCONCLUSIVE


def test_scaling_exponent_tells_linear_from_quadratic() -> None:
    sizes = [128, 256, 512, 1024]
    linear, r2 = stats.scaling_exponent(sizes, [3e-6 * n for n in sizes])
    quadratic, _ = stats.scaling_exponent(sizes, [2e-9 * n * n for n in sizes])
    assert linear == pytest.approx(1.0) and r2 == pytest.approx(1.0)
    assert quadratic == pytest.approx(2.0)


def test_a1_declares_its_thresholds() -> None:
    spec = load_spec(CourseLayout(REPO), "a1_execution_modes")
    names = {d.name: d for d in spec.perf}
    assert set(names) == {"predict_time", "sgd_step_time", "predict_memory"}
    assert names["predict_time"].function == "execution_modes.predict" and names["predict_time"].full == 1.25
    # Students preview time against the reference's recorded timings, never against shipped solution code.
    assert spec.baseline_dir is None
    preview = json.loads((spec.assignment_dir / "tests" / "perf_preview.json").read_text())
    assert set(preview["thresholds"]) == {"predict_time", "sgd_step_time"}


@pytest.mark.parametrize("old, new, key, phrase", [
    ('metric = "peak_memory"', 'metric = "joules"', "perf.predict_memory.metric", "is not one of"),
    ('function = "execution_modes.sgd_step"', 'function = "helpers.sgd_step"', "perf.sgd_step_time.function",
     "not in a submitted module"),
    ('inputs = "perf_inputs.sgd_step_inputs"', 'inputs = "missing.sgd_step_inputs"', "perf.sgd_step_time.inputs",
     "does not exist"),
    ("full = 1.3\nzero = 2.0", "full = 2.0\nzero = 2.0", "perf.predict_memory.zero", "equals full"),
    ('metric = "peak_memory"', 'metric = "scaling"', "perf.predict_memory.sizes", "at least two"),
    ("size = 4096", "size = 4096\nwarmup = 3", "perf.predict_memory.warmup", "not a known key"),
])
def test_bad_perf_table_is_refused(tmp_path: Path, old: str, new: str, key: str, phrase: str) -> None:
    for part in ("assignments", "reference"):
        shutil.copytree(REPO / part / "a1_execution_modes", tmp_path / part / "a1_execution_modes")
    spec_path = tmp_path / "assignments" / "a1_execution_modes" / "assignment.toml"
    text = spec_path.read_text()
    assert old in text, f"test bug: {old!r} not in the a1 spec"
    spec_path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as caught:
        load_spec(CourseLayout(tmp_path), "a1_execution_modes")
    assert f"[{key}]" in str(caught.value) and phrase in str(caught.value)
