"""Test files written for gradescope-utils run unchanged and score as its JSONTestRunner would, minus its faults."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from autograder.grading import grade
from autograder.layout import CourseLayout
from autograder.spec import load_spec

RUN_WITH_JSONTESTRUNNER = """
import json, sys, unittest
from gradescope_utils.autograder_utils.json_test_runner import JSONTestRunner
suite = unittest.defaultTestLoader.discover(sys.argv[1], pattern=sys.argv[3])
JSONTestRunner(stream=open(sys.argv[2], "w"), visibility="visible").run(suite)
"""


def jsontestrunner(tests_dir: Path, submission: Path, tmp: Path, pattern: str) -> dict[str, Any] | None:
    """gradescope-utils' own runner on ``pattern``; None when it crashes without writing JSON."""
    out = tmp / "gradescope.json"
    run = subprocess.run([sys.executable, "-c", RUN_WITH_JSONTESTRUNNER, str(tests_dir), str(out), pattern],
                         cwd=submission, env={"PYTHONPATH": str(submission), "PATH": "/usr/bin:/bin"}, capture_output=True)
    try:
        return json.loads(out.read_text()) if run.returncode == 0 else None
    except (OSError, ValueError):
        return None


def test_same_scores_as_jsontestrunner_plus_the_skipped_test(toy_layout: CourseLayout, tmp_path: Path) -> None:
    spec = load_spec(toy_layout, "toy_unittest")
    submission = tmp_path / "sub"
    shutil.copytree(spec.reference_dir, submission)
    (submission / "toy.py").write_text((submission / "toy.py").read_text().replace("return a * b", "return a * b + 1"))
    report = jsontestrunner(spec.folder("public").path, submission, tmp_path, "test_unittest_style.py")
    assert report is not None
    theirs = {t["name"]: t for t in report["tests"]}
    ours = {t["name"]: t for t in grade(spec, submission)["tests"] if "faults" not in t["extra_data"]["nodeid"]}
    skipped = "skipped test keeps its points in the total"
    # gradescope-utils drops the skipped test (its point vanishes from the total); we keep it at 0 / 1.
    assert set(ours) - set(theirs) == {skipped}
    assert (ours[skipped]["score"], ours[skipped]["max_score"]) == (0.0, 1.0)
    assert ours[skipped]["visibility"] == "after_due_date"
    for name, expected in theirs.items():
        assert (ours[name]["score"], ours[name]["max_score"], ours[name]["status"]) == \
            (expected["score"], expected["max_score"], expected["status"]), name
        assert ours[name].get("tags") == expected.get("tags") and ours[name]["number"] == expected.get("number", ours[name]["number"])
    assert ours["mul() multiplies"]["status"] == "failed" and ours["add() partial"]["score"] == 4


def test_module_that_fails_to_import_lists_its_tests_with_their_points(toy_layout: CourseLayout, tmp_path: Path) -> None:
    spec = load_spec(toy_layout, "toy_unittest")
    (tmp_path / "toy.py").write_text("def add(a, b):\n    return a + b\n")  # no mul: `from toy import add, mul` fails
    results = grade(spec, tmp_path)
    names = {t["extra_data"]["nodeid"].split("::")[-1]: t for t in results["tests"]}
    assert set(names) == {"test_add", "test_mul", "test_partial", "test_skipped", "test_needs_fixture",
                          "test_add_cases", "test_known_bug"}
    assert sum(t["max_score"] for t in names.values()) == 16
    assert results["score"] == 0
    assert "ImportError" in names["test_add"]["output"] and "mul" in names["test_add"]["output"]


def test_crash_while_collecting_lists_tests_from_the_syntax_tree(toy_layout: CourseLayout, tmp_path: Path) -> None:
    spec = load_spec(toy_layout, "toy_unittest")
    (tmp_path / "toy.py").write_text("import os\nos._exit(0)\n")
    results = grade(spec, tmp_path)
    assert len(results["tests"]) == 7 and results["score"] == 0
    assert all("could not be loaded" in t["output"] for t in results["tests"])


def test_what_jsontestrunner_gets_wrong_is_graded_right(toy_layout: CourseLayout, tmp_path: Path) -> None:
    """Failing setUpClass, failing subTests and expected failures all keep their points in the total."""
    spec = load_spec(toy_layout, "toy_unittest")
    submission = tmp_path / "sub"
    shutil.copytree(spec.reference_dir, submission)
    theirs = jsontestrunner(spec.folder("public").path, submission, tmp_path, "test_unittest_faults.py")
    their_points = sum(t.get("max_score", 0) for t in (theirs or {}).get("tests", []))
    assert their_points < 6  # it crashes, or drops tests and their points
    ours = {t["name"]: t for t in grade(spec, submission)["tests"] if "faults" in t["extra_data"]["nodeid"]}
    assert {name: (t["score"], t["max_score"], t["status"]) for name, t in ours.items()} == {
        "a test whose class setup fails is still listed": (0.0, 2.0, "failed"),
        "add() on several cases (subTests)": (0.0, 3.0, "failed"),
        "an expected failure counts as passing": (1.0, 1.0, "passed"),
    }
    assert "could not start: RuntimeError: fixture data missing" in ours["a test whose class setup fails is still listed"]["output"]
