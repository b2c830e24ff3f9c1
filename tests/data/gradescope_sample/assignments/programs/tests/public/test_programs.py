"""student_process.run, a test's own subprocess calls, and exception classes the student defines."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gradescope_utils.autograder_utils.decorators import weight


def graded(submission) -> bool:
    """True in graded runs (the student's code in its own process), False in a student's local check."""
    return type(submission).__name__ == "RemoteSubmission"


@weight(1)
def test_runs_as_the_student(student_process, submission):
    """the program runs as the student's account, in their copy, with the grader's python"""
    result = student_process.run(["python", "tools.py", "whoami"], timeout_s=60)
    assert result.returncode == 0, result.stderr
    uid, cwd, executable = result.stdout.split()
    print(f"program uid={uid}")
    if graded(submission) and os.geteuid() == 0:
        assert int(uid) != 0, "a student's program ran as root"
    assert Path(cwd) != Path.cwd() or not graded(submission)
    assert os.path.realpath(executable) == os.path.realpath(sys.executable)


@weight(1)
def test_stdin_and_env(student_process):
    """stdin (str or bytes) reaches the program, env adds variables"""
    assert student_process.run(["python", "tools.py", "echo"], stdin="shout\n", timeout_s=60).stdout == "SHOUT\n"
    assert student_process.run(["python", "tools.py", "echo"], stdin=b"abc", timeout_s=60).stdout_bytes == b"ABC"
    result = student_process.run(["python", "tools.py", "env"], env={"GREETING": "hello"}, timeout_s=60)
    assert result.stdout.strip() == "hello"


@weight(1)
def test_time_limit(student_process):
    """a program that never ends is stopped at its time limit"""
    result = student_process.run(["python", "tools.py", "spin"], timeout_s=2)
    assert result.timed_out and result.returncode != 0


@weight(1)
def test_output_cap(student_process):
    """output beyond the cap is dropped, not kept in memory"""
    result = student_process.run(["python", "tools.py", "flood"], timeout_s=60)
    assert result.returncode == 0 and result.truncated
    assert len(result.stdout_bytes) == 4 * 1024 * 1024


@weight(1)
def test_crash_is_the_programs_own(student_process, submission):
    """a program that crashes gives a negative exit code; the student's process lives on"""
    assert student_process.run(["python", "tools.py", "crash"], timeout_s=60).returncode == -11
    assert submission.tools.check(3) == 3


@weight(1)
def test_network_is_cut(student_process, submission):
    """the program cannot reach the network when graded"""
    result = student_process.run(["python", "tools.py", "net"], timeout_s=60)
    print(result.stdout)
    if graded(submission):
        assert result.stdout.startswith("refused")


@weight(1)
def test_files_stay_in_the_copy(student_process, submission):
    """a file the program writes is in the student's copy, not beside the tests"""
    assert student_process.run(["python", "tools.py", "write"], timeout_s=60).stdout.strip() == "hello"
    assert not graded(submission) or not Path("made_by_program.txt").exists()


@weight(1)
def test_student_exception_classes(submission):
    """pytest.raises with the student's own exception classes and their bases"""
    with pytest.raises(submission.tools.BadInput) as caught:
        submission.tools.check(-1)
    assert str(caught.value) == "negative: -1"
    assert isinstance(caught.value, submission.tools.ToolError) and isinstance(caught.value, ValueError)
    with pytest.raises(submission.tools.ToolError, match="^negative"):
        submission.tools.check(-2)


@weight(1)
def test_subprocess_in_a_test_runs_in_the_sandbox(submission):
    """a test's own subprocess.run and os.system reach the student's copy, as the student"""
    done = subprocess.run(["python3", "tools.py", "whoami"], capture_output=True, text=True, check=True, timeout=60)
    print(f"subprocess uid={done.stdout.split()[0]}")
    if graded(submission) and os.geteuid() == 0:
        assert int(done.stdout.split()[0]) != 0
    assert subprocess.check_output("python3 tools.py env", shell=True, env={**os.environ, "GREETING": "hi"}) == b"hi\n"
    assert os.system("python3 tools.py env > /dev/null") == 0
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(["python3", "tools.py", "spin"], timeout=1)
