"""a3_energy_model graded end to end, isolated, as Gradescope will: the reference earns every point, the starter
none, and the bugs the assignment's issue lists are each caught by a named hidden test, with a message that
points at the bug (the hidden folder's messages are unmasked here, in a copy of the spec, to check that).

Bugs are planted in copies of the reference by text replacement, two copies so that no bug hides another's
message (the µJ bug and the forgotten data movement would otherwise show up in the same tests as the others).
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
SLUG = "a3_energy_model"
pytestmark = pytest.mark.slow

# bug -> (text in the reference, its replacement, the hidden test that must fail, words its message must hold)
BUGS_A = {
    "wraparound ignored": (
        "    return delta + max_energy_range_uj if delta < 0 else delta\n", "    return delta\n",
        "test_rapl_several_wraps_while_polling", "wraps at"),
    "a single zone assumed": (
        '"intel-rapl:*")):', '"intel-rapl:0")):',
        "test_rapl_two_sockets_and_subzones", "find_rapl_zones: expected"),
    "DRAM energy per 64-bit access used per byte": (
        "    return num_bytes * DRAM_WORD_32BIT_PJ / 4\n", "    return num_bytes * DRAM_ACCESS_64BIT_PJ[0]\n",
        "test_dram_and_sram_prices", "dram_energy_pj("),
}
BUGS_B = {
    "µJ read as J": (
        "energy = {domain: self._total[domain] / 1e6 for domain in self._last}",
        "energy = {domain: float(self._total[domain]) for domain in self._last}",
        "test_rapl_two_sockets_and_subzones", "microjoules"),
    "a polling thread that ignores safe_poll_interval_s (student trial)": (
        "            interval = min([self.poll_interval_s] + [safe_poll_interval_s(r) for r in self._range.values()])\n",
        "            interval = self.poll_interval_s\n",
        "test_rapl_context_manager", "it must poll every min(poll_interval_s, safe_poll_interval_s(range))"),
    "a model that forgets data movement": (
        'totals["total_pj"] = totals["arithmetic_pj"] + totals["data_movement_pj"]',
        'totals["total_pj"] = totals["arithmetic_pj"]',
        "test_model_totals_per_sample_crossover", "['total_pj']"),
}


@pytest.fixture(scope="module")
def spec() -> AssignmentSpec:
    return load_spec(CourseLayout(REPO), SLUG)


@pytest.fixture(scope="module")
def reference_results(spec: AssignmentSpec) -> dict[str, Any]:
    return grade(spec, spec.reference_dir)


def by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["extra_data"]["nodeid"].rpartition("::")[2]: t for t in results["tests"]}


def bugged_copy(tmp_path: Path, bugs: dict[str, tuple[str, str, str, str]]) -> Path:
    source = (REPO / "reference" / SLUG / "energy.py").read_text()
    for name, (old, new, _, _) in bugs.items():
        assert source.count(old) == 1, f"test bug: the text planting {name!r} is not in the reference exactly once"
        source = source.replace(old, new)
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "energy.py").write_text(source)
    return folder


def unmasked(spec: AssignmentSpec) -> AssignmentSpec:
    """The spec with the hidden folder's real failure messages shown, so the test can read them."""
    return replace(spec, test_folders=tuple(replace(f, hide_errors=None) for f in spec.test_folders))


def test_reference_earns_every_point_isolated(reference_results: dict[str, Any]) -> None:
    validate_results(reference_results)
    total = sum(t["max_score"] for t in reference_results["tests"])
    assert reference_results["score"] == total > 40
    assert reference_results["extra_data"]["isolation"]["mode"] == "process"
    tests = by_name(reference_results)
    assert tests["test_real_counters_if_any"]["max_score"] == 0  # real counters are informational only
    assert tests["test_real_gpu_meter"]["max_score"] == 0


def test_starter_earns_nothing_but_lists_every_test(spec: AssignmentSpec, reference_results: dict[str, Any]) -> None:
    results = grade(spec, spec.starter_dir)
    validate_results(results)
    assert results["score"] == 0
    assert set(by_name(results)) == set(by_name(reference_results))


@pytest.mark.parametrize("bugs", [BUGS_A, BUGS_B], ids=["wrap-zone-dram", "microjoule-datamovement"])
def test_planted_bugs_are_caught_by_hidden_tests(bugs: dict[str, tuple[str, str, str, str]], spec: AssignmentSpec,
                                                 tmp_path: Path) -> None:
    results = grade(unmasked(spec), bugged_copy(tmp_path, bugs), folders=("hidden",))
    tests = by_name(results)
    for name, (_, _, test, words) in bugs.items():
        assert tests[test]["status"] == "failed", f"{name}: {test} should fail, it {tests[test]['status']}"
        assert words in tests[test]["output"], f"{name}: {test}'s message does not point at it:\n{tests[test]['output']}"
