"""`autograder mutants`: mutants of the solution blocks, graded by the assignment's own tests (toy course)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.layout import CourseLayout
from autograder.mutation.mutants import mutants_of
from autograder.mutation.run import KILLED, SURVIVED, run_mutants
from autograder.spec import load_spec

from conftest import TOY_ROOT

pytest.importorskip("cosmic_ray")


@pytest.fixture
def course(tmp_path: Path) -> CourseLayout:
    shutil.copytree(TOY_ROOT, tmp_path / "course")
    return CourseLayout(tmp_path / "course")


def test_only_solution_blocks_are_mutated(course: CourseLayout) -> None:
    path = course.reference_dir("toy") / "toy.py"
    path.write_text(path.read_text() + "\n\nOUTSIDE = 1 + 2\n")
    mutants = mutants_of(path)
    assert mutants and all(m.line in (6, 12) for m in mutants), sorted({m.line for m in mutants})
    assert len({m.source for m in mutants}) == len(mutants)


def test_kill_rate_and_survivors(course: CourseLayout) -> None:
    spec = load_spec(course, "toy")
    full = run_mutants(spec, "toy", jobs=2)
    assert full.baseline_failures == []
    assert full.kill_rate == 1.0, [(r.mutant.line, r.status) for r in full.results]
    assert any(test.endswith("test_mul") for r in full.results for test in r.killed_by)
    # Without the only test of mul(), every mutant of mul() survives, and the report shows it as a diff.
    public = course.assignment_dir("toy") / "tests" / "public" / "test_public.py"
    public.write_text(public.read_text().replace("def test_mul(", "def _not_a_test_mul("))
    weak = run_mutants(load_spec(course, "toy"), "toy", jobs=1)
    survivors = [r for r in weak.results if r.status != KILLED]
    assert survivors and all(r.mutant.line == 12 for r in survivors)
    assert {r.status for r in survivors} <= {SURVIVED, "not reached by any test"}
    assert "-    return a * b" in survivors[0].mutant.diff(weak.original, "toy.py")
    assert weak.kill_rate < 1.0
