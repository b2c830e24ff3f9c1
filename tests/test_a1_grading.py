"""a1 graded end to end, isolated, as Gradescope will: the reference, the starter, broken and slow variants.

These grade the real assignment (a worker importing torch, digits training, timed perf tests), so each
takes tens of seconds; they are the promises the README makes about a1.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from autograder.grading import grade
from autograder.layout import CourseLayout
from autograder.results_schema import validate_results
from autograder.spec import AssignmentSpec, load_spec

REPO = Path(__file__).resolve().parents[1]
PREDICT = "    with torch.inference_mode():\n        return model(x)\n"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spec() -> AssignmentSpec:
    return load_spec(CourseLayout(REPO), "a1_execution_modes")


@pytest.fixture(scope="module")
def reference_results(spec: AssignmentSpec) -> dict[str, Any]:
    return grade(spec, spec.reference_dir)


def variant(tmp_path: Path, old: str, new: str) -> Path:
    source = (REPO / "reference" / "a1_execution_modes" / "execution_modes.py").read_text()
    assert old in source, f"test bug: {old!r} not in the reference"
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "execution_modes.py").write_text(source.replace(old, new, 1))
    return folder


def by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["extra_data"]["nodeid"]: t for t in results["tests"]}


def test_reference_earns_every_point_isolated(reference_results: dict[str, Any]) -> None:
    validate_results(reference_results)
    total = sum(t["max_score"] for t in reference_results["tests"])
    assert reference_results["score"] == total > 0
    assert reference_results["extra_data"]["isolation"]["mode"] == "process"
    perf = [t for t in reference_results["tests"] if "perf" in t["extra_data"]]
    assert len(perf) == 3 and all("the reference" in t["output"] for t in perf)
    assert any(t["output"].startswith("1.0") or t["output"].startswith("0.9") for t in perf)  # ~1× itself


def test_a_slower_predict_loses_the_time_points(spec: AssignmentSpec, tmp_path: Path,
                                                reference_results: dict[str, Any]) -> None:
    slow = "    with torch.inference_mode():\n        model(x[: x.shape[0] // 2])  # wasted work: 1.5x\n        return model(x)\n"
    results = grade(spec, variant(tmp_path, PREDICT, slow), folders=("public",))
    tests = by_name(results)
    timed = tests["tests/public/test_performance.py::test_predict_time"]
    assert timed["score"] < timed["max_score"], timed["output"]
    assert "× the time of the reference" in timed["output"] and "CI" in timed["output"]
    others = [t for n, t in tests.items() if "test_predict_time" not in n and "memory" not in n]
    assert all(t["status"] == "passed" for t in others), [t["name"] for t in others if t["status"] != "passed"]


def test_predict_that_keeps_the_graph_loses_the_memory_points(spec: AssignmentSpec, tmp_path: Path) -> None:
    keeps_graph = "    with torch.enable_grad():\n        return model(x)\n"
    results = grade(spec, variant(tmp_path, PREDICT, keeps_graph), folders=("public",))
    memory = by_name(results)["tests/public/test_performance.py::test_predict_keeps_no_graph_memory"]
    assert memory["score"] < memory["max_score"], memory["output"]


def test_starter_earns_nothing_but_lists_every_test(spec: AssignmentSpec, reference_results: dict[str, Any]) -> None:
    results = grade(spec, spec.starter_dir)
    validate_results(results)
    assert results["score"] == 0
    assert set(by_name(results)) == set(by_name(reference_results))


BROKEN = {
    "syntax_error": ("def get_device", "def get_device(:\ndef _unused"),
    "exit_at_import": ("from torch import nn\n", "from torch import nn\nimport os\nos._exit(0)\n"),
    "infinite_loop": ("    model.eval()\n    with torch.inference_mode():", "    while True:\n        pass\n    with torch.inference_mode():"),
    "segfault": ("    model.eval()\n    with torch.inference_mode():", "    import ctypes; ctypes.string_at(0)\n    with torch.inference_mode():"),
}


@pytest.mark.parametrize("case", sorted(BROKEN) + ["missing_file"])
def test_broken_submission_lists_every_test(case: str, spec: AssignmentSpec, tmp_path: Path,
                                            reference_results: dict[str, Any]) -> None:
    fast = replace(spec, limits=replace(spec.limits, test_timeout_s=10))
    if case == "missing_file":
        folder = tmp_path / "submission"
        folder.mkdir()
        (folder / "execution_mode.py").write_text("# misnamed\n")
    else:
        folder = variant(tmp_path, *BROKEN[case])
    results = grade(fast, folder)
    validate_results(results)  # includes score == sum of the tests
    assert set(by_name(results)) == set(by_name(reference_results))
    assert results["score"] < reference_results["score"]
    if case in ("infinite_loop", "segfault"):  # only the tests calling predict are lost
        assert results["score"] > 0
    failing = [t for t in results["tests"] if t["status"] == "failed" and t["visibility"] == "visible"]
    assert failing and all(t["output"] for t in failing)
