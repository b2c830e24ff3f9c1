"""A broken assignment.toml is refused with one line naming the file, the key and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.errors import SpecError
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
