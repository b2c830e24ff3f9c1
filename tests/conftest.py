"""Shared fixtures for the framework's own tests.

Most tests grade the torch-free toy course in tests/data/toycourse (a child starts in well under a second);
a few grade the real a1 assignment end to end.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import pytest

from autograder.layout import CourseLayout
from autograder.spec import AssignmentSpec, load_spec

REPO = Path(__file__).resolve().parents[1]
TOY_ROOT = REPO / "tests" / "data" / "toycourse"
XDIST_FIRST_SLOT = 40  # `pytest -n N`: worker gwK grades on slot 40 + K, apart from slot 0 (a TA's run) and regrade's 1..N

if os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw"):
    # Each xdist worker grades on its own pair of accounts (its own lock): otherwise the workers wait for each
    # other's gradings, and one's final kill-all would end the other's processes. Child processes inherit it.
    os.environ["AUTOGRADER_SLOT"] = str(XDIST_FIRST_SLOT + int(os.environ["PYTEST_XDIST_WORKER"][2:]))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds a venv or grades a torch assignment (tens of seconds)")


@pytest.fixture
def repo_layout() -> CourseLayout:
    return CourseLayout(REPO)


@pytest.fixture
def toy_layout() -> CourseLayout:
    return CourseLayout(TOY_ROOT)


@pytest.fixture
def toy_spec(toy_layout: CourseLayout) -> AssignmentSpec:
    return load_spec(toy_layout, "toy")


@pytest.fixture
def toy_submission(tmp_path: Path) -> Callable[[str, str], Path]:
    """Make a submission folder from the toy reference with one text edit: ``(old, new)`` replaced in toy.py."""
    def make(old: str = "", new: str = "") -> Path:
        folder = tmp_path / "submission"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        source = (TOY_ROOT / "reference" / "toy" / "toy.py").read_text()
        if old:
            assert old in source, f"test bug: {old!r} is not in the toy reference"
            source = source.replace(old, new)
        (folder / "toy.py").write_text(source)
        return folder
    return make
