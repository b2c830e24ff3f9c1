"""A broken assignment.toml is refused with one line naming the file, the key and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.errors import SpecError, SpecProblems
from autograder.layout import CourseLayout
from autograder.spec import load_spec

from conftest import TOY_ROOT


@pytest.fixture
def course(tmp_path: Path) -> CourseLayout:
    shutil.copytree(TOY_ROOT, tmp_path / "course")
    return CourseLayout(tmp_path / "course")


def edit_spec(course: CourseLayout, old: str, new: str) -> None:
    path = course.spec_path("toy")
    text = path.read_text()
    assert old in text, f"test bug: {old!r} not in the toy spec"
    path.write_text(text.replace(old, new))


def test_toy_spec_loads(course: CourseLayout) -> None:
    spec = load_spec(course, "toy")
    assert spec.submission.required == ("toy.py",)
    assert [f.name for f in spec.test_folders] == ["public", "hidden"]
    assert spec.folder("hidden").visibility == "after_published"
    assert spec.limits.test_timeout_s == 5


@pytest.mark.parametrize("old, new, key, phrase", [
    ("max_file_kb = 64", "max_file_kb = 64\nmax_size = 3", "submission.max_size", "not a known key"),
    ("[limits]", "[limitz]\n[limits]", "limitz", "not a known key"),
    ('title = "Toy: arithmetic"', "", "assignment.title", "is missing"),
    ('visibility = "after_published"', 'visibility = "secret"', "tests.hidden.visibility", "is not one of"),
    ("deadline_s = 120", "deadline_s = 4", "limits.deadline_s", "is not above test_timeout_s"),
    ("deadline_s = 120", "deadline_s = 590", "limits.deadline_s", "at most 570"),
    ("test_timeout_s = 5", "test_timeout_s = -1", "limits.test_timeout_s", "greater than 0"),
    ("memory_mb = 1024", 'memory_mb = "lots"', "limits.memory_mb", "must be a whole number"),
    ('required = ["toy.py"]', 'required = ["toy2.py"]', "submission.required", "does not exist"),
    ('required = ["toy.py"]', 'required = ["../toy.py"]', "submission.required", "not a plain relative"),
    ('optional = ["notes.txt"]', 'optional = ["toy.py"]', "submission.optional", "repeats required"),
    ('path = "tests/hidden"', 'path = "tests/nowhere"', "tests.hidden.path", "holds no test_*.py"),
    ('[assignment]', '[assignment]\ndevices = ["gpu"]', "assignment.devices", "unknown device"),
    ('[assignment]', '[assignment]\ndevices = ["cuda"]', "assignment.devices", 'must include "cpu"'),
    ('[assignment]', '[assignment]\nhandout = "HANDOUT.md"', "assignment.handout", "does not exist"),
])
def test_bad_spec_is_refused_with_file_key_and_fix(course: CourseLayout, old: str, new: str, key: str, phrase: str) -> None:
    edit_spec(course, old, new)
    with pytest.raises(SpecError) as caught:
        load_spec(course, "toy")
    message = str(caught.value)
    assert "\n" not in message
    assert str(course.spec_path("toy")) in message and f"[{key}]" in message and phrase in message
    assert ";" in message  # the fix follows the problem


def test_invalid_toml_names_the_position(course: CourseLayout) -> None:
    edit_spec(course, "[limits]", "[limits")
    with pytest.raises(SpecError, match="is not valid TOML"):
        load_spec(course, "toy")


def test_unknown_slug_lists_the_known_ones(course: CourseLayout) -> None:
    with pytest.raises(SpecError, match="known assignments: toy, toy_unittest"):
        load_spec(course, "a9")


def test_every_problem_is_reported_at_once(course: CourseLayout) -> None:
    """One run of validate lists them all (before: one per run), each on a line naming the key."""
    edit_spec(course, "max_file_kb = 64", "max_file_kb = -1\nmax_size = 3")
    edit_spec(course, "[limits]", "[limitz]\n[limits]")
    with pytest.raises(SpecProblems) as caught:
        load_spec(course, "toy")
    keys = {problem.key for problem in caught.value.problems}
    assert {"submission.max_file_kb", "submission.max_size", "limitz"} <= keys
    assert len(str(caught.value).splitlines()) == len(caught.value.problems)


@pytest.fixture
def new_course(tmp_path: Path) -> CourseLayout:
    """A course holding only the assignment `autograder new demo` writes."""
    from autograder.scaffold import create_assignment

    (tmp_path / "course" / "assignments").mkdir(parents=True)
    layout = CourseLayout(tmp_path / "course")
    create_assignment(layout, "demo")
    return layout


def test_new_assignment_validates(new_course: CourseLayout) -> None:
    spec = load_spec(new_course, "demo")
    assert [d.name for d in spec.perf] == ["normalize_rows_time"]
    assert (new_course.starter_dir("demo") / "demo.py").read_text().count("raise NotImplementedError") == 1


@pytest.mark.parametrize("old, new, phrase", [
    ('inputs = "perf_inputs.normalize_rows_inputs"', 'inputs = "perf_inputs.normalise_rows_inputs"',
     "defines no 'normalise_rows_inputs'"),
    ('function = "demo.normalize_rows"', 'function = "demo.normalise_rows"', "defines no 'normalise_rows'"),
    ("[perf.normalize_rows_time]", "[perf.unused]\nmetric = \"flops\"\nfunction = \"demo.normalize_rows\"\n"
     "inputs = \"perf_inputs.normalize_rows_inputs\"\nfull = 1.1\nzero = 2.0\n\n[perf.normalize_rows_time]",
     "is used by no test"),
])
def test_names_the_spec_uses_are_checked_statically(new_course: CourseLayout, old: str, new: str, phrase: str) -> None:
    """A misspelt generator or function is the instructor's problem, found before anything runs."""
    path = new_course.spec_path("demo")
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(SpecError, match=phrase):
        load_spec(new_course, "demo")


def test_a_perf_test_without_a_table_is_reported(new_course: CourseLayout) -> None:
    test_file = new_course.assignment_dir("demo") / "tests" / "public" / "test_performance.py"
    test_file.write_text(test_file.read_text().replace('perf.check("normalize_rows_time")', 'perf.check("other")'))
    with pytest.raises(SpecError, match=r"test_performance.py:\d+.*perf.check\('other'\).*no \[perf.other\]"):
        load_spec(new_course, "demo")
