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
            (expected["score"], expected["max_score"], expected["status"]), (name, ours[name]["output"][:800])
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


# ------------------------------------------------------------------ the student's programs, in the sandbox
PROGRAMS_COURSE = Path(__file__).resolve().parent / "data" / "gradescope_sample"


def _programs_results(local: bool) -> dict[str, dict[str, Any]]:
    spec = load_spec(CourseLayout(PROGRAMS_COURSE), "programs")
    results = grade(spec, spec.reference_dir, local=local)
    return {t["extra_data"]["nodeid"].split("::")[-1]: t for t in results["tests"]}


def _printed_uid(output: str, label: str) -> int:
    import re

    found = re.search(rf"{label} uid=(\d+)", output)
    assert found, f"no '{label} uid=' in the test's output: {output!r}"
    return int(found.group(1))


def test_student_programs_run_as_the_student_inside_the_sandbox() -> None:
    """student_process.run and a test's own subprocess calls start the program as the grading account (when the
    grader is root), in the jail, in the student's copy; exceptions the student defines are caught by class; a
    crash fails only its own test, and names a test file imported at the top survive the restart."""
    import os

    from autograder.isolation import sandbox

    tests = _programs_results(local=False)
    failed = {name for name, t in tests.items() if t["status"] != "passed"}
    assert failed == {"test_1_crash"}, {name: tests[name]["output"][:800] for name in failed}
    assert "stopped" in tests["test_1_crash"]["output"] or "exited" in tests["test_1_crash"]["output"]
    program_uid = _printed_uid(tests["test_runs_as_the_student"]["output"], "program")
    subprocess_uid = _printed_uid(tests["test_subprocess_in_a_test_runs_in_the_sandbox"]["output"], "subprocess")
    if os.geteuid() == 0:
        import pwd

        student = pwd.getpwnam(sandbox.slot_users()[0]).pw_uid
        assert program_uid == subprocess_uid == student != 0
    else:
        assert program_uid == subprocess_uid == os.geteuid()


def test_student_programs_in_a_local_check_run_in_the_submission_folder() -> None:
    tests = _programs_results(local=True)
    failed = {name for name, t in tests.items() if t["status"] != "passed"}
    assert failed == {"test_1_crash"}, {name: tests[name]["output"][:800] for name in failed}


# ------------------------------------------------------------------ exception classes the student defines
def _lineage_of(source: str, name: str) -> list[Any]:
    from autograder.isolation.exceptions import lineage

    namespace: dict[str, Any] = {"__name__": "calc"}
    exec(source, namespace)  # noqa: S102 - a class hierarchy standing in for a student's module
    return lineage(namespace[name])


HIERARCHY = """
class CalcError(Exception):
    pass
class ParseError(CalcError, ValueError):
    pass
class Odd(CalcError, KeyError, OSError):  # KeyError and OSError cannot share a layout
    pass
"""


def test_student_exception_classes_match_their_bases_and_keep_the_message() -> None:
    from autograder.isolation.exceptions import materialise
    from autograder.isolation.proxy import StudentException, student_exception

    calc_error = materialise(_lineage_of(HIERARCHY, "CalcError"))
    parse_error = materialise(_lineage_of(HIERARCHY, "ParseError"))
    assert materialise(_lineage_of(HIERARCHY, "ParseError")) is parse_error  # cached: one class per name and bases
    assert issubclass(parse_error, calc_error) and issubclass(parse_error, ValueError)
    assert issubclass(calc_error, StudentException) and calc_error.__qualname__ == "CalcError"
    raised = student_exception({"type": "ParseError", "message": "bad token '*'", "frames": [], "kind": "student",
                                "builtin_bases": ["ValueError", "Exception", "BaseException"],
                                "lineage": _lineage_of(HIERARCHY, "ParseError")})
    assert isinstance(raised, parse_error) and isinstance(raised, calc_error) and isinstance(raised, ValueError)
    assert str(raised) == "bad token '*'" and raised.display == "ParseError: bad token '*'"
    odd = materialise(_lineage_of(HIERARCHY, "Odd"))
    assert issubclass(odd, calc_error) and issubclass(odd, KeyError)  # the clashing base is dropped, last first
    assert materialise([["calc:X", "not a list"]]) is StudentException  # malformed: the generic class
    assert materialise([["builtins:ValueError", []]]) is ValueError  # a built-in class is itself


def test_codec_sends_an_exception_class_by_lineage() -> None:
    from autograder.isolation import codec

    namespace: dict[str, Any] = {"__name__": "calc"}
    exec(HIERARCHY, namespace)  # noqa: S102
    chunks = codec.pack({"cls": namespace["ParseError"]}, to_handle=lambda value: 1)
    frame = bytes(chunks[0])
    body = bytearray(b"".join(bytes(c) for c in chunks[1:]))
    received = codec.unpack(frame, body, lambda number: None)["cls"]
    assert received.__qualname__ == "ParseError" and issubclass(received, ValueError)
    try:
        raise received("x")  # a test may build and raise one itself
    except received as caught:
        assert str(caught) == "x" and caught.args == ("x",)


# ------------------------------------------------------------------ subprocess calls of a test file
def _fake_runner(calls: list[dict[str, Any]], reply: dict[str, Any]) -> Any:
    def run(**request: Any) -> dict[str, Any]:
        calls.append(request)
        return dict(reply)
    return run


def test_a_test_files_subprocess_calls_are_routed_and_nobody_elses(tmp_path: Path) -> None:
    import os

    from autograder import compat

    calls: list[dict[str, Any]] = []
    runner = _fake_runner(calls, {"returncode": 0, "stdout": b"> 2\n> ", "stderr": b"", "timed_out": False})
    here = Path(__file__).resolve().parent
    compat.install(runner, here, None)
    try:
        process = subprocess.Popen(["python3", "-u", "calculator.py"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   encoding="utf8")
        assert process.poll() is None  # waiting for its input
        output, _ = process.communicate("1 + 1\n", 1)
        assert output == "> 2\n> " and process.returncode == 0
        assert calls[-1]["argv"] == ["python3", "-u", "calculator.py"] and calls[-1]["stdin"] == b"1 + 1\n"
        assert calls[-1]["timeout_s"] == 1 and calls[-1]["cwd"] is None
        assert subprocess.run("echo hi", shell=True, capture_output=True).stdout == b"> 2\n> "
        assert calls[-1]["argv"] == ["/bin/sh", "-c", "echo hi"]
        assert os.system("true") == 0 and calls[-1]["argv"] == ["/bin/sh", "-c", "true"]
        subprocess.run(["env"], env={**os.environ, "EXTRA": "1"}, capture_output=True)
        assert calls[-1]["env"] == {"EXTRA": "1"}  # only what the test added, never the runner's environment
        count = len(calls)
        compat.install(runner, tmp_path, None)  # this file is now outside the routed folder: the real thing
        assert subprocess.run(["true"]).returncode == 0 and len(calls) == count
    finally:
        compat.uninstall()
    assert subprocess.Popen is not compat.RoutedPopen and os.system is not compat._routed_system


def test_a_routed_program_that_times_out_raises_timeoutexpired() -> None:
    from autograder import compat

    calls: list[dict[str, Any]] = []
    runner = _fake_runner(calls, {"returncode": -9, "stdout": b"partial", "stderr": b"", "timed_out": True,
                                  "timeout_s": 1.0})
    compat.install(runner, Path(__file__).resolve().parent, None)
    try:
        import pytest

        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run(["python3", "spin.py"], timeout=1, capture_output=True)
        process = subprocess.Popen(["python3", "spin.py"], stdout=subprocess.PIPE)
        with pytest.raises(subprocess.TimeoutExpired):
            process.communicate(timeout=1)
        process.kill()
        assert process.communicate() == (b"partial", None) and process.returncode == -9
    finally:
        compat.uninstall()


def test_check_submitted_files_looks_at_the_submission(tmp_path: Path) -> None:
    from gradescope_utils.autograder_utils.files import check_submitted_files

    from autograder import compat

    (tmp_path / "calculator.py").write_text("")
    compat.install(_fake_runner([], {}), tmp_path, tmp_path)
    try:
        assert check_submitted_files(["calculator.py", "missing.py"]) == ["missing.py"]
    finally:
        compat.uninstall()
    assert check_submitted_files(["calculator.py"]) == (["calculator.py"] if not Path("/autograder/submission/calculator.py").is_file() else [])
