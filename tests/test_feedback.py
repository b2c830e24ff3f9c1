"""What students see: helpful for visible tests, nothing of hidden tests' source, inputs or expected values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from autograder.grading import grade
from autograder.spec import AssignmentSpec

HIDDEN = "tests/hidden/test_hidden.py::test_hidden_add"
ADD = "    return a + b"


def by_id(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["extra_data"]["nodeid"]: t for t in results["tests"]}


def test_hidden_failure_shows_only_the_fixed_message(toy_spec: AssignmentSpec,
                                                     toy_submission: Callable[..., Path]) -> None:
    results = grade(toy_spec, toy_submission(ADD, "    print('debug', a, b); return a + b + (a > 1000)"))
    hidden = by_id(results)[HIDDEN]
    assert hidden["status"] == "failed"
    assert hidden["output"] == toy_spec.folder("hidden").hide_errors
    everything = json.dumps({k: v for k, v in results.items() if k != "extra_data"})
    for secret in ("424242", "424000", "SECRET_EXPECTED", "assert submission"):
        assert secret not in everything
    assert "debug" not in hidden["output"]  # stdout of a hidden test is never shown


def test_hidden_error_in_student_code_shows_type_and_place_but_not_message(
        toy_spec: AssignmentSpec, toy_submission: Callable[..., Path]) -> None:
    source = "    if a > 1000: raise ValueError(f'got {a}')\n    return a + b"
    hidden = by_id(grade(toy_spec, toy_submission(ADD, source)))[HIDDEN]
    assert "ValueError" in hidden["output"] and 'File "toy.py"' in hidden["output"]
    assert "424000" not in hidden["output"]


def test_visible_failure_says_what_and_where(toy_spec: AssignmentSpec, toy_submission: Callable[..., Path]) -> None:
    results = grade(toy_spec, toy_submission("    return a * b", "    return a * b + 1"))
    mul = by_id(results)["tests/public/test_public.py::test_mul"]
    assert mul["output"].startswith("Check failed: AssertionError")
    assert "21 == 20" in mul["output"]
    assert "def test_mul" not in mul["output"]  # never the test's source lines


def test_visible_stdout_is_shown_for_visible_tests(toy_spec: AssignmentSpec, toy_submission: Callable[..., Path]) -> None:
    results = grade(toy_spec, toy_submission(ADD, "    print('hello from add'); return a + b"))
    assert "hello from add" in by_id(results)["tests/public/test_public.py::test_add"]["output"]


def test_summary_does_not_reveal_unpublished_results(toy_spec: AssignmentSpec,
                                                     toy_submission: Callable[..., Path]) -> None:
    passing_hidden_only = grade(toy_spec, toy_submission(ADD, "    return a + b if a > 1000 else 0"))
    failing_everything = grade(toy_spec, toy_submission(ADD, "    return 0"))
    def summary_tail(results: dict[str, Any]) -> str:
        return [line for line in results["output"].splitlines() if "more test(s)" in line][0]
    assert summary_tail(passing_hidden_only) == summary_tail(failing_everything)
    assert "| hidden" not in passing_hidden_only["output"]


def test_partial_credit_counts(toy_spec: AssignmentSpec, toy_submission: Callable[..., Path]) -> None:
    results = grade(toy_spec, toy_submission(ADD, "    return a + b if a > 0 else 99"))
    partial = by_id(results)["tests/public/test_public.py::test_partial"]
    assert (partial["score"], partial["max_score"], partial["status"]) == (2.0, 4.0, "failed")


def _toy_copy(tmp_path: Path, file: str, old: str, new: str) -> AssignmentSpec:
    import shutil

    from autograder.layout import CourseLayout
    from autograder.spec import load_spec

    from conftest import TOY_ROOT

    shutil.copytree(TOY_ROOT, tmp_path / "course")
    path = tmp_path / "course" / "assignments" / "toy" / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    return load_spec(CourseLayout(tmp_path / "course"), "toy")


def test_a_hidden_test_says_what_it_exercises(tmp_path: Path, toy_submission: Callable[..., Path]) -> None:
    """One fixed text for every hidden test could not say which function a failure is about (issue 10)."""
    spec = _toy_copy(tmp_path, "tests/hidden/test_hidden.py", "@weight(5)",
                     '@weight(5)\n@__import__("pytest").mark.hint("add() on large numbers")')
    hidden = by_id(grade(spec, toy_submission(ADD, "    return a + b + (a > 1000)")))[HIDDEN]
    assert hidden["output"] == spec.folder("hidden").hide_errors + "\n\nThis test exercises: add() on large numbers"
    assert "424" not in hidden["output"]


def test_pytest_internals_stay_out_of_messages(tmp_path: Path, toy_submission: Callable[..., Path]) -> None:
    """An assert with a message shows the message, not pytest's '+ where False = <built-in method ... at 0x7f…>'."""
    spec = _toy_copy(tmp_path, "tests/public/test_public.py", "assert submission.toy.add(2, 3) == 5",
                     'assert submission.toy.add(2, 3) == 5, "expected add(2, 3) to return 5"')
    output = by_id(grade(spec, toy_submission(ADD, "    return a + b + 1")))["tests/public/test_public.py::test_add"]["output"]
    assert output.startswith("Check failed: AssertionError: expected add(2, 3) to return 5")
    assert "where" not in output and "assert 6 == 5" not in output and "0x" not in output
