"""Grading slots: two gradings at once on one machine both complete correctly.

Different slots run side by side, even when one submission kills every process of its own account; two runs on
the same slot wait for each other (the slot's lock), so one run's final kill-all never hits the other's workers.
Needs root (the slot accounts); as another user there is only one account, the caller's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.isolation import sandbox

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="grading slots are accounts: needs root")
SLOTS = (21, 22)  # far from regrade's 1..N and from interactive runs on slot 0


def _make_class() -> object:
    spec = importlib.util.spec_from_file_location("make_class", REPO / "tests" / "data" / "staff" / "make_class.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_class().make_course(tmp_path_factory.mktemp("course"))


def _submission(folder: Path, source: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "toy.py").write_text(source)
    return folder


def _start(course: Path, submission: Path, out: Path, slot: int) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True)
    settings = {"id": out.name, "submission": str(submission), "out": str(out), "digest": "x", "slot": slot,
                "seed": 1, "course_root": str(course), "slug": "toy"}
    (out / "settings.json").write_text(json.dumps(settings))
    return subprocess.Popen([sys.executable, "-m", "autograder.staff.job", str(out / "settings.json")], cwd=REPO)


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_slot_names() -> None:
    assert sandbox.slot_users(0) == ("autograder-student", "autograder-reference")
    assert sandbox.slot_users(3) == ("autograder-student-3", "autograder-reference-3")
    with pytest.raises(ValueError):
        sandbox.slot_users(-1)


def test_two_slots_run_at_once_and_a_kill_all_stays_in_its_slot(course: Path, tmp_path: Path) -> None:
    mod = _make_class()
    honest = _submission(tmp_path / "honest", mod.ADD + "\n\n" + mod.MUL)
    # kill(-1) from the worker: every process of *its* account but itself; a slot-less design killed the other run
    hostile = _submission(tmp_path / "hostile", "import os, signal\n\ndef add(a, b):\n    os.kill(-1, signal.SIGKILL)\n"
                          "    return a + b\n\n" + mod.MUL)
    runs = [_start(course, honest, tmp_path / "out-honest", SLOTS[0]),
            _start(course, hostile, tmp_path / "out-hostile", SLOTS[1])]
    assert [run.wait(timeout=300) for run in runs] == [0, 0]
    for name in ("out-honest", "out-hostile"):
        results = _results(tmp_path / name)
        assert results["score"] == 15.0, (name, [t["output"][:200] for t in results["tests"] if t["status"] != "passed"])
    assert _results(tmp_path / "out-honest")["extra_data"]["isolation"]["user"] == sandbox.slot_users(SLOTS[0])[0]
    assert _results(tmp_path / "out-hostile")["extra_data"]["isolation"]["user"] == sandbox.slot_users(SLOTS[1])[0]


def test_same_slot_waits_for_the_lock(course: Path, tmp_path: Path) -> None:
    mod = _make_class()
    honest = _submission(tmp_path / "honest", mod.ADD + "\n\n" + mod.MUL)
    with sandbox.AccountLock.for_slot(SLOTS[0]):  # another run holds the slot
        run = _start(course, honest, tmp_path / "out-waiting", SLOTS[0])
        time.sleep(3)
        assert run.poll() is None and not (tmp_path / "out-waiting" / "results.json").exists(), \
            "a run graded on a slot whose lock another run holds"
        other = _start(course, honest, tmp_path / "out-other", SLOTS[1])  # a different slot is not held up
        assert other.wait(timeout=300) == 0
    assert run.wait(timeout=300) == 0
    assert _results(tmp_path / "out-waiting")["score"] == 15.0
    assert _results(tmp_path / "out-other")["score"] == 15.0


def test_lock_is_reentrant_in_one_thread_and_visible_to_others() -> None:
    lock = sandbox.AccountLock.for_slot(SLOTS[1])
    assert not lock.busy()
    with sandbox.AccountLock.for_slot(SLOTS[1]):
        with sandbox.AccountLock.for_slot(SLOTS[1]):  # a tool holding it calls code that takes it again
            assert lock.busy()
        assert lock.busy()
    assert not lock.busy()


def test_the_final_kill_all_says_why_and_what(course: Path, tmp_path: Path) -> None:
    mod = _make_class()
    honest = _submission(tmp_path / "honest", mod.ADD + "\n\n" + mod.MUL)
    account = sandbox.slot_accounts(SLOTS[0])[0]
    # A process of the slot's account that outlives the run (workers' own daemons are ended earlier, with the
    # worker): the kill-all at the end must end it, and say which it was and why.
    straggler = subprocess.Popen(["sleep", "600"], user=account.uid, group=account.gid, extra_groups=[])
    try:
        run = _start(course, honest, tmp_path / "out", SLOTS[0])
        assert run.wait(timeout=300) == 0
        assert straggler.wait(timeout=30) == -9
    finally:
        if straggler.poll() is None:
            straggler.kill()
    killed = _results(tmp_path / "out")["extra_data"]["isolation"]["killed_after_run"]
    assert "still running" in killed["why"] and f"slot {SLOTS[0]}" in killed["why"]
    assert {"account": account.name, "pid": straggler.pid, "name": "sleep"} in killed["processes"]


def test_the_default_slot_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """$AUTOGRADER_SLOT moves a whole activity (a bench, a test session) onto its own accounts and lock."""
    monkeypatch.delenv(sandbox.SLOT_ENV, raising=False)
    assert sandbox.default_slot() == 0 and sandbox.slot_users() == (sandbox.STUDENT_USER, sandbox.REFERENCE_USER)
    monkeypatch.setenv(sandbox.SLOT_ENV, "23")
    assert sandbox.slot_users() == (sandbox.STUDENT_USER + "-23", sandbox.REFERENCE_USER + "-23")
    assert sandbox.AccountLock.for_slot().path.name == sandbox.STUDENT_USER + "-23.lock"
    for bad in ("x", "64", "-1"):
        monkeypatch.setenv(sandbox.SLOT_ENV, bad)
        with pytest.raises(ValueError, match="AUTOGRADER_SLOT"):
            sandbox.default_slot()
