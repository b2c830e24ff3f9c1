"""verify's rules, without grading: a fake grader returns results documents."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from autograder.layout import CourseLayout
from autograder.spec import load_spec
from autograder.verification import verify

from conftest import TOY_ROOT


def _results(scores: dict[str, tuple[float, float]]) -> dict[str, Any]:
    return {"tests": [{"name": name, "score": got, "max_score": out_of, "extra_data": {"nodeid": name}}
                      for name, (got, out_of) in scores.items()]}


@pytest.fixture
def spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(TOY_ROOT, tmp_path / "course")
    layout = CourseLayout(tmp_path / "course")
    from autograder.starter import write_starter

    write_starter(layout.reference_dir("toy"), layout.starter_dir("toy"), slug="toy")
    return load_spec(layout, "toy")


def test_no_starter_yet_says_which_command_makes_one(spec) -> None:  # type: ignore[no-untyped-def]
    """It used to grade an empty folder and call the starter stale."""
    shutil.rmtree(spec.starter_dir)
    graded: list[Path] = []
    outcome = verify(spec, lambda s, folder: graded.append(folder) or _results({}))
    assert graded == []
    assert outcome.problems == [f"there is no starter yet ({spec.starter_dir} is missing or empty); generate it "
                                "with `autograder starter toy`"]


def test_rules(spec) -> None:  # type: ignore[no-untyped-def]
    runs = {spec.reference_dir: _results({"a": (1, 1), "b": (2, 2)}), spec.starter_dir: _results({"a": (0, 1), "b": (0, 2)})}
    assert verify(spec, lambda s, folder: runs[folder]).ok
    runs[spec.reference_dir] = _results({"a": (1, 1), "b": (1, 2)})
    runs[spec.starter_dir] = _results({"a": (1, 1)})
    problems = verify(spec, lambda s, folder: runs[folder]).problems
    assert any("reference earns 2 / 3; failing: b" in p for p in problems)
    assert any("starter earns 1 points; tests it passes: a" in p for p in problems)
    assert any("list different tests: ['b']" in p for p in problems)
