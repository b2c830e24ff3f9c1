"""A broken submission still yields a complete, consistent results.json (the grading spine's promise)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from autograder.grading import grade
from autograder.spec import AssignmentSpec

TOY_TESTS = {
    "tests/public/test_public.py::test_add", "tests/public/test_public.py::test_mul",
    "tests/public/test_public.py::test_partial", "tests/public/test_public.py::test_marker",
    "tests/hidden/test_hidden.py::test_hidden_add",
}
MUL = "    return a * b"
ADD = "    return a + b"


def by_id(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["extra_data"]["nodeid"]: t for t in results["tests"]}


def assert_complete(results: dict[str, Any]) -> None:
    """Every toy test listed, each with a status, and the total is the sum."""
    tests = by_id(results)
    assert set(tests) == TOY_TESTS
    assert all(t["status"] in ("passed", "failed") for t in tests.values())
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests.values()))
    assert sum(t["max_score"] for t in tests.values()) == 15
    assert isinstance(results["execution_time"], float)


def test_reference_earns_everything(toy_spec: AssignmentSpec, toy_submission: Callable[..., Path]) -> None:
    results = grade(toy_spec, toy_submission())
    assert_complete(results)
    assert results["score"] == 15


# (edit to toy.py, nodeids expected to fail, a phrase the student must see on the first of them)
BROKEN = {
    "syntax_error": ((MUL, MUL + "\ndef broken(:"), TOY_TESTS, "SyntaxError at line"),
    "exit_at_import": ((MUL, MUL + "\nimport os\nos._exit(0)"), TOY_TESTS, "exited with code 0"),
    "sys_exit_at_import": ((MUL, MUL + "\nimport sys\nsys.exit(3)"), TOY_TESTS, "sys.exit(3)"),
    "segfault_in_mul": ((MUL, "    import ctypes; ctypes.string_at(0)"),
                        {"tests/public/test_public.py::test_mul"}, "segmentation fault"),
    "infinite_loop_in_mul": ((MUL, "    while True: pass"), {"tests/public/test_public.py::test_mul"}, "time limit"),
    "os_exit_in_add": ((ADD, "    import os; os._exit(0)"),
                       TOY_TESTS - {"tests/public/test_public.py::test_mul"}, "exited with code 0"),
    "memory_bomb_in_mul": ((MUL, "    return bytearray(4 * 1024**3)"), {"tests/public/test_public.py::test_mul"},
                           "MemoryError"),
    "raises_in_mul": ((MUL, "    raise ValueError('bad shape')"), {"tests/public/test_public.py::test_mul"},
                      "Your code raised ValueError: bad shape"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_submission_is_fully_accounted(case: str, toy_spec: AssignmentSpec,
                                              toy_submission: Callable[..., Path]) -> None:
    (old, new), failing, phrase = BROKEN[case]
    results = grade(toy_spec, toy_submission(old, new))
    assert_complete(results)
    tests = by_id(results)
    assert {n for n, t in tests.items() if t["status"] == "failed"} == failing
    visible_failures = [tests[n] for n in sorted(failing) if tests[n]["visibility"] == "visible"]
    assert phrase in visible_failures[0]["output"]


def test_missing_file_is_named_in_the_summary(toy_spec: AssignmentSpec, tmp_path: Path) -> None:
    (tmp_path / "toy_v2.py").write_text("def add(a, b): return a + b\n")
    results = grade(toy_spec, tmp_path)
    assert_complete(results)
    assert results["score"] == 0
    assert "Missing required file `toy.py`" in results["output"]
    assert "toy_v2.py" in results["output"]
    assert "toy.py is missing" in by_id(results)["tests/public/test_public.py::test_add"]["output"]


def test_files_inside_a_folder_are_found(toy_spec: AssignmentSpec, toy_submission: Callable[..., Path],
                                         tmp_path: Path) -> None:
    nested = tmp_path / "upload" / "my_project"
    nested.mkdir(parents=True)
    (nested / "toy.py").write_text((toy_submission() / "toy.py").read_text())
    results = grade(toy_spec, tmp_path / "upload")
    assert results["score"] == 15
    assert "inside the folder `my_project/`" in results["output"]


def test_oversized_file_is_refused_with_the_reason(toy_spec: AssignmentSpec, toy_submission: Callable[..., Path]) -> None:
    folder = toy_submission(MUL, MUL + "\n# " + "x" * (70 * 1024))
    results = grade(toy_spec, folder)
    assert_complete(results)
    assert results["score"] == 0
    assert "over the 64 KB limit" in results["output"]


def test_deadline_lists_unreached_tests_as_not_run(toy_spec: AssignmentSpec, toy_submission: Callable[..., Path]) -> None:
    from dataclasses import replace

    spec = replace(toy_spec, limits=replace(toy_spec.limits, deadline_s=2.5, test_timeout_s=2))
    results = grade(spec, toy_submission(ADD, "    import time; time.sleep(1.2); return a + b"))
    assert_complete(results)
    outcomes = {t["extra_data"]["outcome"] for t in results["tests"]}
    assert "not_run" in outcomes or "timeout" in outcomes
    assert any("overall time limit" in t["output"] for t in results["tests"])


def test_huge_print_is_capped(toy_spec: AssignmentSpec, toy_submission: Callable[..., Path]) -> None:
    results = grade(toy_spec, toy_submission(ADD, "    print('y' * 10_000_000); return a + b"))
    assert_complete(results)
    assert results["score"] == 15
    assert max(len(t["output"]) for t in results["tests"]) < 10_000
    assert "more characters cut" in by_id(results)["tests/public/test_public.py::test_add"]["output"]


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="only a grader started as root takes the grading account's lock")
def test_waiting_for_the_account_lock_is_not_charged_to_the_run(toy_spec: AssignmentSpec, toy_submission) -> None:
    """Another run holds the slot's lock for longer than this run's whole deadline: this run waits, then grades
    everything (the deadline clock used to start before the lock was taken, so every test was 'not run')."""
    import subprocess
    from dataclasses import replace

    from autograder.isolation import sandbox

    spec = replace(toy_spec, limits=replace(toy_spec.limits, deadline_s=20.0))
    lock = sandbox.AccountLock.for_slot(7)
    holder = subprocess.Popen(["flock", str(lock.path), "sleep", "21"])
    try:
        deadline = time.monotonic() + 5
        while not lock.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        results = grade(spec, toy_submission(), slot=7)
    finally:
        holder.kill()
        holder.wait()
    assert results["extra_data"]["isolation"]["waited_for_lock_s"] >= 20.0
    assert all(t["status"] == "passed" for t in results["tests"]), [t["output"] for t in results["tests"]]


@pytest.mark.skipif(os.geteuid() != 0, reason="the account probe runs only as root")
def test_an_unreachable_interpreter_is_one_clear_error(tmp_path: Path, toy_spec: AssignmentSpec, toy_submission) -> None:
    """A Python under a folder the grading account cannot enter (pyenv under /root): grade used to die with a
    PermissionError traceback and no results.json; now it says what is wrong and the command that fixes it."""
    import sys

    from autograder.errors import AutograderError
    from autograder.supervisor import Supervisor

    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    (hidden / "python").symlink_to(sys.executable)
    supervisor = Supervisor(toy_spec, toy_submission(), toy_spec.reference_dir, python=str(hidden / "python"))
    with pytest.raises(AutograderError, match=r"cannot run .*private/python.*sandbox-setup"):
        supervisor.run()


LEAKER = '''
import os

def _peek():
    args = open(f"/proc/{os.getppid()}/cmdline", "rb").read().split(b"\\0")
    found = []
    for flag, rel in ((b"--rootdir", "tests/hidden/test_hidden.py"), (b"--ag-reference", "toy.py")):
        if flag in args:
            path = os.path.join(args[args.index(flag) + 1].decode(), rel)
            try:
                found.append(open(path).read())
            except OSError as exc:
                found.append(f"refused: {type(exc).__name__}")
    return found

print("PEEK", _peek())
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="only a grader started as root runs student code as another account")
def test_local_grade_hands_the_runner_root_only_copies(toy_spec: AssignmentSpec, toy_submission) -> None:
    """Student code read --rootdir and --ag-reference from the runner's /proc/PID/cmdline and then the hidden
    tests and the reference from the course checkout (issue 9 §5): a TA's local grade must not allow it."""
    import json

    folder = toy_submission()
    (folder / "toy.py").write_text((folder / "toy.py").read_text() + LEAKER)
    results = grade(toy_spec, folder)
    everything = json.dumps(results)
    assert "PEEK" in everything and "refused: PermissionError" in everything, everything[:2000]
    assert "424242" not in everything and "SECRET_EXPECTED" not in everything
