"""Gradescope's own Python sample (rewritten: tests/data/gradescope_sample/README.md) scores as under
gradescope-utils' JSONTestRunner, test by test, for the solution and its four faulty variants.

Graded twice: with ``grade`` (isolated; as root in CI, so the REPL tests run the student's calculator.py as the
grading account, inside the sandbox), and through the course's autograder zip unpacked into a root laid out like
Gradescope's ``/autograder`` (``source/run_autograder``). JSONTestRunner runs the way the sample's own
``run_autograder`` runs it: calculator.py copied beside the tests, ``discover("tests")`` from there, with
``/autograder/submission`` (where ``check_submitted_files`` looks) being the submission folder of that root.
Only the random partial-credit value and the random leaderboard values may differ.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from gradescope_root import clean_env, unpack

from autograder.grading import grade
from autograder.isolation.programs import python_shims
from autograder.layout import CourseLayout
from autograder.packaging import build_autograder_zip
from autograder.spec import AssignmentSpec, load_spec

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parent / "data" / "gradescope_sample"
VARIANTS = ["solution", "incomplete_1", "incorrect_1", "incorrect_2", "incorrect_3"]
RANDOM = {"Sets partial credit"}  # random.randint in the test itself: equal only in max_score
MAY_BE_EMPTY = {"stars"}  # a leaderboard column whose random value can be the empty string
EXPECTED_FAILURES = {  # what JSONTestRunner says, and so what this grader must say (the sample's README table)
    "solution": set(),
    "incomplete_1": {"Evaluate 8 / 4", "Evaluate 1+1 (no whitespace)", "Evaluate (1 + 1) * 4", "Evaluate 1 + 1 * 8",
                     "Evaluate 8 / 4 * 2"},
    "incorrect_1": {"Evaluate 1+1 (no whitespace)", "Evaluate (1 + 1) * 4", "Evaluate 1 + 1 * 8"},
    "incorrect_2": {"Evaluating 2 ** 8 should raise an exception", "Evaluate 1 + 1 in the REPL"},
    "incorrect_3": {"Quit the REPL"},
}

RUN_TESTS = """
import sys, unittest
from gradescope_utils.autograder_utils import files
from gradescope_utils.autograder_utils.json_test_runner import JSONTestRunner
files.check_submitted_files.__defaults__ = (sys.argv[1],)  # Gradescope's /autograder/submission, in this root
suite = unittest.defaultTestLoader.discover("tests")
with open(sys.argv[2], "w") as stream:
    JSONTestRunner(visibility="visible", stream=stream).run(suite)
"""


def variant_folder(name: str) -> Path:
    return SAMPLE / "reference" / "calculator" if name == "solution" else SAMPLE / "variants" / name


@pytest.fixture(scope="module")
def spec() -> AssignmentSpec:
    return load_spec(CourseLayout(SAMPLE), "calculator")


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """World-traversable (pytest's tmp folders are mode 700): the grading account runs python from here."""
    base = Path(tempfile.mkdtemp(prefix="autograder-gs-sample-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def jsontestrunner(spec: AssignmentSpec, variant: str, workspace: Path) -> dict[str, Any]:
    """The sample's run_autograder: copy calculator.py into source/, run the tests from there."""
    root = Path(tempfile.mkdtemp(prefix=f"jtr-{variant}-", dir=workspace))
    shutil.copytree(variant_folder(variant), root / "submission")
    shutil.copytree(spec.folder("public").path, root / "source" / "tests")
    shutil.copy(root / "submission" / "calculator.py", root / "source" / "calculator.py")
    shims = python_shims(root / "bin", sys.executable)  # `python3` in the REPL tests: an interpreter with nothing odd
    out = root / "results.json"
    run = subprocess.run([sys.executable, "-c", RUN_TESTS, str(root / "submission"), str(out)], cwd=root / "source",
                         env=clean_env(PATH=f"{shims}:/usr/bin:/bin", PYTHONPATH=str(root / "source")),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and out.is_file(), f"JSONTestRunner failed on {variant}:\n{run.stderr[-3000:]}"
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def theirs(spec: AssignmentSpec, workspace: Path) -> dict[str, dict[str, Any]]:
    return {variant: jsontestrunner(spec, variant, workspace) for variant in VARIANTS}


@pytest.fixture(scope="module")
def ours(spec: AssignmentSpec) -> dict[str, dict[str, Any]]:
    return {variant: grade(spec, variant_folder(variant)) for variant in VARIANTS}


@pytest.fixture(scope="module")
def ours_in_gradescope_root(spec: AssignmentSpec, workspace: Path) -> dict[str, dict[str, Any]]:
    """Each variant through the zip's run_autograder in a root laid out like /autograder (this venv as the
    grader's: AUTOGRADER_VENV; the e2e test of a1 covers building that venv with setup.sh)."""
    archive = build_autograder_zip(CourseLayout(SAMPLE), spec, dest=workspace / "autograder.zip")
    results = {}
    for variant in VARIANTS:
        root = Path(tempfile.mkdtemp(prefix=f"autograder-{variant}-", dir=workspace))
        root.chmod(0o755)
        unpack(archive, root / "source")
        shutil.copytree(variant_folder(variant), root / "submission")
        (root / "results").mkdir()
        run = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, capture_output=True, text=True,
                             timeout=spec.limits.deadline_s + 60,
                             env=clean_env(AUTOGRADER_ROOT=str(root), AUTOGRADER_VENV=sys.prefix))
        path = root / "results" / "results.json"
        assert path.is_file(), f"run_autograder wrote no results.json for {variant}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
        results[variant] = json.loads(path.read_text())
    return results


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # Leaderboard-only tests are not listed, as in JSONTestRunner's output. The gradescope command adds one
    # staff-only entry of its own (honesty declarations: hidden, 0 points, folder "staff"), not a test.
    tests = [t for t in report["tests"] if t.get("extra_data", {}).get("folder") != "staff"]
    names = [t["name"] for t in tests]
    assert len(names) == len(set(names)), f"test names are not unique: {names}"
    return {t["name"]: t for t in tests}


def assert_same_as_jsontestrunner(mine: dict[str, Any], reference: dict[str, Any], variant: str) -> None:
    expected, got = by_name(reference), by_name(mine)
    assert set(got) == set(expected), f"{variant}: tests differ: {set(got) ^ set(expected)}"
    for name, their in expected.items():
        our = got[name]
        assert our["max_score"] == their["max_score"], (variant, name)
        if name in RANDOM:
            assert 0 <= our["score"] <= our["max_score"], (variant, name)
            continue
        assert (our["score"], our["status"]) == (their["score"], their["status"]), \
            f"{variant}: {name!r}: ours {our['score']} {our['status']} ({our.get('output', '')[:500]}), " \
            f"JSONTestRunner {their['score']} {their['status']}"
        for key in ("number", "visibility", "tags"):
            if key in their:
                assert our.get(key) == their[key], (variant, name, key)
    failed = {name for name, t in expected.items() if t["status"] == "failed" and name not in RANDOM}
    assert failed == EXPECTED_FAILURES[variant], f"{variant}: JSONTestRunner itself failed {failed}"
    # Leaderboard values are random. "stars" is "*" * randint(0, 10), so 1 run in 11 it is "": JSONTestRunner
    # still lists the column, this grader leaves an empty value out (results._leaderboard_value; reported).
    theirs = {(entry["name"], entry.get("order", "desc")) for entry in reference.get("leaderboard", [])}
    ours = {(entry["name"], entry.get("order", "desc")) for entry in mine.get("leaderboard", [])}
    assert ours <= theirs and {name for name, _ in theirs - ours} <= MAY_BE_EMPTY, (variant, ours, theirs)


@pytest.mark.parametrize("variant", VARIANTS)
def test_grade_scores_every_test_as_jsontestrunner(variant: str, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert_same_as_jsontestrunner(ours[variant], theirs[variant], variant)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradescope_layout_scores_every_test_as_jsontestrunner(variant: str, ours_in_gradescope_root: dict[str, Any],
                                                               theirs: dict[str, Any]) -> None:
    assert_same_as_jsontestrunner(ours_in_gradescope_root[variant], theirs[variant], variant)


def test_the_repl_ran_inside_the_sandbox(ours: dict[str, Any]) -> None:
    """Nothing of the student's ran in the test process: the graded run was isolated, under the grading
    account when root, and the REPL tests passed, so their `python3 calculator.py` ran in the student's copy."""
    isolation = ours["solution"]["extra_data"]["isolation"]
    assert isolation["mode"] == "process"
    import os

    if os.geteuid() == 0:
        assert isolation["user"].startswith("autograder-student")
    tests = by_name(ours["solution"])
    assert tests["Evaluate 1 + 1 in the REPL"]["status"] == "passed" and tests["Quit the REPL"]["status"] == "passed"
