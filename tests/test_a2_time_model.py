"""a2_time_model graded end to end, isolated, as Gradescope will: the reference, the starter, a bugged copy.

The promises the handout and issue 12 make: the reference earns every point, the starter none, both list
the same tests; and the hidden tests catch the planted bugs (a FLOP count off by 2, bytes without the output
write, a benchmark without warm-up or synchronisation, list scheduling that ignores dependencies, a roofline
that takes min where it needs max), each failing with a message that names what went wrong.
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
SLUG = "a2_time_model"
pytestmark = pytest.mark.slow

# bug: (old text in the reference, bugged text, the hidden test that must catch it, words its message must hold);
# one function per bug, all planted in one copy graded once
BUGS = {
    "flops off by 2": ("    flops = 2 * output * (in_channels // groups) * kh * kw\n",
                       "    flops = output * (in_channels // groups) * kh * kw\n",
                       "test_work_functions_random_cases", "wrong flops"),
    "bytes without the output write": ('    return {"flops": 2 * m * k * n, "bytes": (m * k + k * n + m * n) * element_size}\n',
                                       '    return {"flops": 2 * m * k * n, "bytes": (m * k + k * n) * element_size}\n',
                                       "test_work_functions_random_cases", "wrong bytes"),
    "benchmark without warm-up or sync": ("    def synced_clock() -> float:\n        sync()\n        return clock()\n\n"
                                          "    with torch_threads(num_threads):\n        for _ in range(warmup):\n            fn()\n",
                                          "    def synced_clock() -> float:\n        return clock()\n\n"
                                          "    with torch_threads(num_threads):\n        for _ in range(0):\n            fn()\n",
                                          "test_benchmark_method_other_settings", "synchronisation:"),
    "list scheduling ignores dependencies": (
        "            ready = next((t for t in pending if all(d in done for d in deps.get(t, []))), None)\n",
        "            ready = next((t for t in pending), None)\n",
        "test_list_schedule_graphs", "before a (which it depends on) finishes"),
    "roofline takes min": ('    return max(work["flops"] / peak_flops, work["bytes"] / bandwidth)\n',
                           '    return min(work["flops"] / peak_flops, work["bytes"] / bandwidth)\n',
                           "test_predict_forward_given_rates", "roofline time"),
}


@pytest.fixture(scope="module")
def spec() -> AssignmentSpec:
    return load_spec(CourseLayout(REPO), SLUG)


@pytest.fixture(scope="module")
def reference_results(spec: AssignmentSpec) -> dict[str, Any]:
    return grade(spec, spec.reference_dir)


def by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["extra_data"]["nodeid"]: t for t in results["tests"]}


def test_reference_earns_every_point(reference_results: dict[str, Any]) -> None:
    validate_results(reference_results)
    total = sum(t["max_score"] for t in reference_results["tests"])
    failed = [(t["name"], t["output"][:300]) for t in reference_results["tests"] if t["score"] < t["max_score"]]
    assert reference_results["score"] == total > 0, failed


def test_starter_earns_nothing_but_lists_every_test(spec: AssignmentSpec, reference_results: dict[str, Any]) -> None:
    results = grade(spec, spec.starter_dir)
    validate_results(results)
    assert results["score"] == 0
    assert set(by_name(results)) == set(by_name(reference_results))


def test_hidden_tests_catch_the_planted_bugs(spec: AssignmentSpec, tmp_path: Path) -> None:
    source = (REPO / "reference" / SLUG / "time_model.py").read_text()
    for bug, (old, new, _, _) in BUGS.items():
        assert source.count(old) == 1, f"test bug: the text planting {bug!r} is not (once) in the reference"
        source = source.replace(old, new)
    # the timing tests are not what this run checks: make them fail fast instead of measuring for a minute
    source += "".join(f"\n\ndef {name}(*args, **kwargs):\n    raise NotImplementedError('not measured in this run')\n"
                      for name in ("measure_peak_flops", "measure_bandwidth", "time_vs_size"))
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "time_model.py").write_text(source)
    # staff view: the hidden folder without hide_errors, so the outputs carry the tests' own messages
    staff = replace(spec, test_folders=tuple(replace(f, hide_errors=None) for f in spec.test_folders))
    results = grade(staff, folder, folders=("hidden",))
    validate_results(results)
    tests = {nodeid.split("::")[-1]: t for nodeid, t in by_name(results).items()}
    for bug, (_, _, catcher, words) in BUGS.items():
        caught = tests[catcher]
        assert caught["status"] == "failed" and caught["score"] == 0, f"{bug}: {catcher} did not fail: {caught['output'][:300]}"
        assert words in caught["output"], f"{bug}: {catcher}'s message does not say {words!r}: {caught['output'][:600]}"
    # the untouched functions still earn their points: the bugs are caught where they are, not everywhere
    assert tests["test_fit_amdahl_noisy_and_edge_cases"]["status"] == "passed"
    assert tests["test_roofline_plot_leaves_out_layers_without_work"]["status"] == "passed"
