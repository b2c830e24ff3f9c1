"""From starter.zip alone: the handout's one install command in a fresh venv, then the handout's check command."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.layout import CourseLayout
from autograder.packaging import build_starter_zip
from autograder.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
SLUG = "a1_execution_modes"
pytestmark = pytest.mark.slow


def test_starter_zip_installs_and_checks_in_a_fresh_venv(tmp_path: Path) -> None:
    layout = CourseLayout(REPO)
    archive = build_starter_zip(layout, load_spec(layout, SLUG), dest=tmp_path / "starter.zip")
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(tmp_path)
    folder = tmp_path / SLUG
    requirements = (folder / "requirements.txt").read_text()
    assert "pyseccomp" not in requirements and "torch==" in requirements and "./autograder-" in requirements
    handout = (REPO / "assignments" / SLUG / "README.md").read_text()
    install = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"
    assert install in handout, "the handout must give the one install command this test runs"
    base = getattr(sys, "_base_executable", sys.executable)  # a venv's python makes venvs from its base
    subprocess.run([base, "-m", "venv", ".venv"], cwd=folder, check=True)
    subprocess.run([".venv/bin/pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"],
                   cwd=folder, check=True, timeout=900)
    check = subprocess.run([".venv/bin/autograder", "check"], cwd=folder, capture_output=True, text=True, timeout=600)
    output = " ".join(check.stdout.split())
    assert "public tests" in output, check.stdout + check.stderr
    assert "0 / " in output and "passed" not in [word.strip("│") for word in check.stdout.split()], check.stdout
    staff = subprocess.run([".venv/bin/autograder", "new", "a9_demo"], cwd=folder, capture_output=True, text=True)
    assert staff.returncode == 2 and "course-staff command" in staff.stderr, staff.stderr
