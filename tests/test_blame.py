"""Errors of the grader's own code are never blamed on the student (issue: an instructor's typo read
"Your code raised ModuleNotFoundError")."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.isolation.proxy import GraderFault, student_exception
from autograder.loading import student_frames


def _raise_from(filename: str) -> BaseException:
    try:
        exec(compile("raise ModuleNotFoundError('no module named perf_inputz')", filename, "exec"))
    except ModuleNotFoundError as exc:
        return exc
    raise AssertionError("unreachable")


def test_pseudo_file_frames_are_not_the_students(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the worker the current folder is the submission's: "<frozen importlib._bootstrap>" resolved against it
    looked like a student file."""
    monkeypatch.chdir(tmp_path)
    exc = _raise_from("<frozen importlib._bootstrap>")
    assert student_frames(exc, tmp_path) == []
    real = tmp_path / "mine.py"
    real.write_text("x = 1\n")
    assert student_frames(_raise_from(str(real)), tmp_path)[0].startswith('  File "mine.py", line 1')


def test_a_failing_grader_helper_in_the_worker_is_the_graders_fault(tmp_path: Path) -> None:
    from autograder.isolation.worker import Server

    server = Server(tmp_path)
    reply = server.handle({"op": "trusted_call", "args": {"function": "autograder.kit.remote.seed", "args": ["x"],
                                                          "kwargs": {}}})
    assert reply["error"]["kind"] == "grader", reply
    assert isinstance(student_exception(reply["error"]), GraderFault)
    student = server.handle({"op": "import", "args": {"module": "missing_module"}})
    assert student["error"]["kind"] in ("load", "student")  # a missing submitted file stays the student's to fix
