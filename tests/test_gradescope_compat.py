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
suite = unittest.defaultTestLoader.discover(sys.argv[1], pattern="test_*.py")
JSONTestRunner(stream=open(sys.argv[2], "w"), visibility="visible").run(suite)
"""


def jsontestrunner(tests_dir: Path, submission: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / "gradescope.json"
    subprocess.run([sys.executable, "-c", RUN_WITH_JSONTESTRUNNER, str(tests_dir), str(out)], cwd=submission,
                   env={"PYTHONPATH": str(submission), "PATH": "/usr/bin:/bin"}, check=True, capture_output=True)
    return json.loads(out.read_text())


def test_same_scores_as_jsontestrunner_plus_the_skipped_test(toy_layout: CourseLayout, tmp_path: Path) -> None:
    spec = load_spec(toy_layout, "toy_unittest")
    submission = tmp_path / "sub"
    shutil.copytree(spec.reference_dir, submission)
    (submission / "toy.py").write_text((submission / "toy.py").read_text().replace("return a * b", "return a * b + 1"))
    theirs = {t["name"]: t for t in jsontestrunner(spec.folder("public").path, submission, tmp_path)["tests"]}
    ours = {t["name"]: t for t in grade(spec, submission)["tests"]}
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
    assert set(names) == {"test_add", "test_mul", "test_partial", "test_skipped"}
    assert sum(t["max_score"] for t in names.values()) == 10
    assert results["score"] == 0
    assert "ImportError" in names["test_add"]["output"] and "mul" in names["test_add"]["output"]


def test_crash_while_collecting_lists_tests_from_the_syntax_tree(toy_layout: CourseLayout, tmp_path: Path) -> None:
    spec = load_spec(toy_layout, "toy_unittest")
    (tmp_path / "toy.py").write_text("import os\nos._exit(0)\n")
    results = grade(spec, tmp_path)
    assert len(results["tests"]) == 4 and results["score"] == 0
    assert all("could not be loaded" in t["output"] for t in results["tests"])
