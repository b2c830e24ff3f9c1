"""`autograder verify SLUG`: the instructor's promise that an assignment is gradable as released.

The reference earns every point, the starter none, both runs list the same tests, and ``starter/`` is what
the generator makes from the reference today. The rules live here; the CLI only prints what they found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from autograder.spec import AssignmentSpec
from autograder.starter import stale_starter_files

Grader = Callable[[AssignmentSpec, Any], dict[str, Any]]


@dataclass
class Verification:
    """What verify found: a list of problems (empty: verified) and the two runs' results."""

    problems: list[str] = field(default_factory=list)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _totals(results: dict[str, Any]) -> tuple[float, float]:
    tests = results.get("tests", [])
    return sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)


def starter_problems(spec: AssignmentSpec) -> list[str]:
    """Why ``starter/`` cannot be verified yet (missing, or stale against the reference)."""
    if not spec.starter_dir.is_dir() or not any(spec.starter_dir.iterdir()):
        return [f"there is no starter yet ({spec.starter_dir} is missing or empty); generate it with "
                f"`autograder starter {spec.slug}`"]
    stale = stale_starter_files(spec.reference_dir, spec.starter_dir, slug=spec.slug)
    return [f"starter/{spec.slug}/{name} is stale; run `autograder starter {spec.slug}`" for name in stale]


def judge(spec: AssignmentSpec, runs: dict[str, dict[str, Any]]) -> list[str]:
    """The pass/fail rules over the reference's and the starter's results."""
    problems = []
    ref_score, ref_max = _totals(runs["reference"])
    if ref_max <= 0:
        problems.append("the tests are worth 0 points in total; give them weights")
    if ref_score != ref_max:
        failed = [t["name"] for t in runs["reference"]["tests"] if t["score"] < t["max_score"]]
        problems.append(f"the reference earns {ref_score:g} / {ref_max:g}; failing: {', '.join(failed)}")
    start_score, _ = _totals(runs["starter"])
    if start_score != 0:
        scoring = [t["name"] for t in runs["starter"]["tests"] if t["score"] > 0]
        problems.append(f"the starter earns {start_score:g} points; tests it passes: {', '.join(scoring)}")
    # A passing leaderboard-only test is on the leaderboard only (results.leaderboard_only): it still counts as listed.
    names = [sorted([t["extra_data"]["nodeid"] for t in runs[label]["tests"]]
                    + runs[label].get("extra_data", {}).get("leaderboard_only_tests", [])) for label in ("reference", "starter")]
    if names[0] != names[1]:
        problems.append(f"the reference and starter runs list different tests: {sorted(set(names[0]) ^ set(names[1]))}")
    return problems


def verify(spec: AssignmentSpec, grade: Grader, on_run: Callable[[str, dict[str, Any]], None] | None = None) -> Verification:
    """Grade the reference and the starter with ``grade(spec, folder)`` and judge them. Without a starter there is
    nothing to compare: the one problem says which command makes it."""
    result = Verification(problems=starter_problems(spec))
    if result.problems and result.problems[0].startswith("there is no starter"):
        return result
    for label, folder in (("reference", spec.reference_dir), ("starter", spec.starter_dir)):
        result.runs[label] = grade(spec, folder)
        if on_run is not None:
            on_run(label, result.runs[label])
    result.problems += judge(spec, result.runs)
    return result
