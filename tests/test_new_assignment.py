"""`autograder new demo && autograder verify demo` in a fresh course: the template is a working assignment."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.layout import ROOT_ENV

pytestmark = pytest.mark.slow


def test_new_then_verify_passes(tmp_path: Path) -> None:
    (tmp_path / "assignments").mkdir()
    runner = CliRunner()
    env = {ROOT_ENV: str(tmp_path)}
    created = runner.invoke(main, ["new", "demo"], env=env)
    assert created.exit_code == 0, created.output
    assert (tmp_path / "starter" / "demo" / "demo.py").is_file()
    again = runner.invoke(main, ["new", "demo"], env=env)
    assert again.exit_code == 2 and "already exist" in again.output
    verified = runner.invoke(main, ["verify", "demo"], env=env)
    assert verified.exit_code == 0, verified.output
    assert "verified demo: reference 8/8, starter 0" in " ".join(verified.output.split())
