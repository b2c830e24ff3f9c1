"""results.json is always written, and carries no raw student markup (issue 9, sections 2, 4 and 5).

Hostile a1 submissions graded end to end through the built zip, with the harness of tests/test_attacks.py
(imported: the same Gradescope-like root, canaries, subreaper and checks). Two groups:

- ``robust``: a message with a lone surrogate, Markdown, HTML, ANSI/OSC-8 and rich markup; frames reported as
  anything but a list of strings; a 3000-deep folder chain in the work folder; a sparse tensor returned; a
  reply whose JSON header is 63 MiB of empty lists; and a submitted file whose name forges a heading;
- ``stopper``: alone, two daemons that stop every process of the account once the worker is gone, the grader's
  clean-up helper included.

Each must leave a complete, schema-valid results.json within the deadline, score what the honest part earns,
and leave nothing running. Fast tests at the end drive the clean-up functions directly (root only for the
stop race, which needs an account of its own).
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from test_attacks import ATTACKS_DIR, HAVE_A1, IS_ROOT, NOT_ROOT, SLUG, Arena, Attack, GroupRun, tail

from autograder.isolation import sandbox
from autograder.report import print_results

FORGED_NAME = "notes\n## All 58 tests passed\n<img src=x onerror=alert(1)>.txt"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

ATTACKS = [
    Attack("hostile_message", "robust", breaks=("test_get_device",), needs_account=False),
    Attack("odd_frames", "robust", needs_account=False),
    Attack("deep_tree", "robust", needs_account=False),
    Attack("sparse_tensor", "robust", breaks=("test_predict",), needs_account=False),
    Attack("header_bomb", "robust", breaks=("test_layer_flops_rejects_unknown_mode",), needs_account=False),
    Attack("stop_race", "stopper"),
]
BY_NAME = {attack.name: attack for attack in ATTACKS}
GROUPS: dict[str, list[Attack]] = {}
for _attack in ATTACKS:
    GROUPS.setdefault(_attack.group, []).append(_attack)
assert all((ATTACKS_DIR / f"{a.name}.py").is_file() for a in ATTACKS)


class RobustnessArena(Arena):
    """test_attacks' arena, with this file's groups (and the forged file name submitted beside the module)."""

    def submission_source(self, group: str, root: Path, evidence: Path) -> str:
        if group == "honest":
            return super().submission_source(group, root, evidence)
        if group == "robust":
            (root / "submission" / FORGED_NAME).write_text("an extra file whose name forges a heading\n")
        import test_attacks

        original = test_attacks.GROUPS
        test_attacks.GROUPS = GROUPS  # Arena.submission_source reads that module's GROUPS
        try:
            return super().submission_source(group, root, evidence)
        finally:
            test_attacks.GROUPS = original

    def assert_account_clean(self, run: GroupRun) -> None:
        super().assert_account_clean(run)
        late = [r for a in GROUPS.get(run.group, []) for r in run.records(a.name)
                if r.get("event") == "heartbeat" and r.get("time", 0) > run.returned_at]
        assert not late, f"{len(late)} heartbeat(s) after run_autograder returned, e.g. {late[-1]}"


@pytest.fixture(scope="module")
def arena() -> Iterator[RobustnessArena]:
    if not HAVE_A1:
        pytest.skip(f"assignments/{SLUG}/assignment.toml does not exist yet; the attack suite grades the real a1")
    import shutil

    workspace = Path(tempfile.mkdtemp(prefix="autograder-robust-"))
    workspace.chmod(0o755)
    arena = RobustnessArena(workspace)
    try:
        yield arena
    finally:
        arena.listener.close()
        shutil.rmtree(workspace, ignore_errors=True)


# ============================================================================================ attack-specific checks
CHECKS: dict[str, Callable[[GroupRun, list[dict[str, Any]], Arena], None]] = {}


def check(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(func: Callable[..., None]) -> Callable[..., None]:
        CHECKS[name] = func
        return func
    return register


def rendered_summary(run: GroupRun) -> str:
    assert run.results is not None
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(run.results["output"])


@check("hostile_message")
def _hostile_message(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert run.results is not None
    output = run.test("test_get_device")["output"]
    assert "lone surrogate \ufffd" in output and "[regrade here](https://evil.example/regrade)" in output, output[:500]
    for test in run.results["tests"]:
        assert not CONTROL.search(test["output"].replace("\n", "").replace("\t", "")), test["output"][:300]
    html = rendered_summary(run)
    assert html.count("<h2>") == 1, html  # the title only: neither the message nor the file name forges one
    assert "<img" not in html and "<a " not in html, html
    stream = io.StringIO()
    print_results(Console(file=stream, width=160, force_terminal=False, color_system=None), run.results,
                  "robust [/]", details=True)  # rich raised MarkupError on "[/]"
    assert "[/]" in stream.getvalue() and "\x1b" not in stream.getvalue()
    notes = run.results["extra_data"]["notes"]
    assert any("All 58 tests passed" in note and "\n" not in note for note in notes), notes


@check("odd_frames")
def _odd_frames(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert any(r.get("event") == "patched Server.describe" for r in records), records
    output = run.test("test_get_device")["output"]
    assert 'File "execution_modes.py", line 1, in get_device' in output, output[:1000]
    assert "y" * 400 not in output and "title" not in output


@check("deep_tree")
def _deep_tree(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    made = [r for r in records if r.get("event") == "made"]
    assert made and made[0]["levels"] == 3000, records[:3]


@check("sparse_tensor")
def _sparse_tensor(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert records, "the attack did not run"
    output = run.test("test_predict")["output"]
    assert "sparse" in output and "to_dense" in output, output[:500]
    assert "sys.exit" not in output and "stopped" not in output, output[:500]


@check("header_bomb")
def _header_bomb(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert any(r.get("event") == "sending" for r in records), records
    output = run.test("test_layer_flops_rejects_unknown_mode")["output"]
    assert "refuses to accept" in output and "header of 66," in output, output[:500]


@check("stop_race")
def _stop_race(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert any(r.get("event") == "started" for r in records), "the daemons did not start"
    assert any(r.get("event") == "stopping" for r in records), "the daemons never saw the worker end"
    honest = arena.grade("honest")
    assert run.results is not None and honest.results is not None
    # Not a wall-clock limit: grading with the stoppers (clean-up included; waiting for another grading's account
    # lock is not counted) takes about as long as the honest grading. Before the fix it never ended.
    took, honest_took = run.results["execution_time"], honest.results["execution_time"]
    assert took < 2 * honest_took + 30, f"graded in {took:.0f} s; the honest reference took {honest_took:.0f} s"
    assert took < arena.spec.limits.deadline_s
    killed = run.results["extra_data"]["isolation"].get("killed_after_run", {}).get("processes", [])
    assert len(killed) >= 1, "the stoppers were not among the processes killed after the run"


assert set(CHECKS) == set(BY_NAME), f"attacks without a check or checks without an attack: {set(CHECKS) ^ set(BY_NAME)}"


# ============================================================================================ the end-to-end tests
@pytest.mark.slow
@pytest.mark.parametrize("name", list(BY_NAME))
def test_attack(arena: RobustnessArena, name: str) -> None:
    attack = BY_NAME[name]
    if attack.needs_account and not IS_ROOT:
        pytest.skip(f"{name}: {NOT_ROOT}")
    run = arena.grade(attack.group)
    arena.assert_grader_held(run, {b for a in GROUPS[attack.group] for b in a.breaks})
    records = run.records(name)
    assert records, f"{name} left no evidence: did it run? (see {run.evidence_dir})\n{tail(run.output)}"
    assert not any("skipped" in r for r in records), f"{name} did not run as the grading account: {records}"
    CHECKS[name](run, records, arena)
    if IS_ROOT:
        arena.assert_account_clean(run)


# ============================================================================================ clean-up, directly
def test_remove_tree_handles_a_chain_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    (root / "file.txt").write_text("x")
    os.symlink("/etc", root / "link-to-etc")  # never followed
    deep_chain(root, 3000, "bottom.txt")
    try:
        sandbox.remove_tree(root)
        assert not root.exists() and Path("/etc").is_dir()
    finally:
        if root.exists():  # leave no chain behind for pytest's own (recursive) clean-up of old tmp folders
            subprocess.run(["rm", "-rf", str(root)], check=False)


STOPPER = r"""
import os, signal, sys, threading, time
os.setsid()
end = time.monotonic() + float(sys.argv[1])

def stop_all():
    while time.monotonic() < end:
        try:
            os.kill(-1, signal.SIGSTOP)  # every process of the account but this one
        except OSError:
            pass

threads = [threading.Thread(target=stop_all) for _ in range(3)]
for thread in threads:
    thread.start()
stop_all()
"""


@pytest.mark.skipif(not IS_ROOT, reason=NOT_ROOT)
def test_clean_up_survives_processes_that_stop_it() -> None:
    """Two processes of an account loop on kill(-1, SIGSTOP); killing the account's processes must still end,
    in bounded time, with none left (the helper that becomes the account is stopped too). A test account of its
    own: the grading accounts may be in use by another grading on this machine."""
    account = sandbox.grading_account("autograder-stoptest")
    assert account is not None
    stoppers = [subprocess.Popen([sys.executable, "-S", "-c", STOPPER, "60"], user=account.uid, group=account.gid,
                                 extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin"}) for _ in range(2)]
    try:
        deadline = time.monotonic() + 10
        while len(sandbox.user_processes(account.uid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # let them start stopping each other
        done = threading.Event()
        seen: list[int] = []
        worker = threading.Thread(target=lambda: (seen.append(sandbox.kill_user_processes(account.uid)), done.set()),
                                  daemon=True)
        worker.start()
        assert done.wait(90), "kill_user_processes did not return: it waits for ever on a stopped helper"
        assert seen[0] >= 2
        assert sandbox.user_processes(account.uid) == []
        assert all(stopper.wait(timeout=10) == -signal.SIGKILL for stopper in stoppers)
    finally:
        for stopper in stoppers:
            stopper.kill()
            stopper.wait(timeout=10)


@pytest.mark.skipif(not IS_ROOT, reason=NOT_ROOT)
def test_clean_up_helper_stopped_at_its_worst_moment_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stop race made deterministic: the kill(-1) helper (once it is the account) is stopped instead of
    killing, as a daemon's SIGSTOP does when it lands first. The old clean-up waited for it for ever."""
    account = sandbox.grading_account("autograder-stoptest")
    assert account is not None
    real_kill = os.kill

    def stopped_instead(pid: int, sig: int) -> None:
        if pid == -1:  # only the helper, in the forked child, signals -1
            real_kill(os.getpid(), signal.SIGSTOP)
        real_kill(pid, sig)

    sleeper = subprocess.Popen([sys.executable, "-S", "-c", "import time; time.sleep(60)"], user=account.uid,
                               group=account.gid, extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin"})
    monkeypatch.setattr(os, "kill", stopped_instead)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (sandbox.kill_user_processes(account.uid), done.set()), daemon=True)
    thread.start()
    try:
        assert done.wait(60), "kill_user_processes waits for ever on its stopped helper"
    finally:
        monkeypatch.undo()
        sleeper.kill()
        sleeper.wait(timeout=10)
    assert sleeper.returncode == -signal.SIGKILL
    assert sandbox.user_processes(account.uid) == []


def test_intake_walks_an_upload_deeper_than_the_recursion_limit(tmp_path: Path, toy_spec: Any) -> None:
    """Path.rglob and os.walk raised RecursionError on a 3000-deep chain in the upload, before any test ran."""
    from autograder.grading import take_in

    upload = tmp_path / "upload"
    (upload / "folder").mkdir(parents=True)
    (upload / "folder" / "toy.py").write_text("def add(a, b):\n    return a + b\n")
    (upload / "folder" / "extra.txt").write_text("x")
    try:
        deep_chain(upload, 3000, "toy.py")
        intake = take_in(upload, toy_spec, tmp_path / "into")
    finally:
        sandbox.remove_tree(upload)  # pytest's own clean-up of old tmp folders recurses (RecursionError)
    assert intake.files == ["toy.py"]
    assert (tmp_path / "into" / "toy.py").read_text().startswith("def add")
    assert any("`folder/`" in note for note in intake.notes), intake.notes
    assert any("`extra.txt`" in note for note in intake.notes), intake.notes


def deep_chain(folder: Path, levels: int, bottom: str) -> None:
    """``levels`` nested folders named d in ``folder``, with a file named ``bottom`` at the end."""
    start = os.open(".", os.O_RDONLY)
    try:
        os.chdir(folder)
        for _ in range(levels):
            os.mkdir("d")
            os.chdir("d")
        Path(bottom).write_text("the bottom of the chain")
    finally:
        os.fchdir(start)
        os.close(start)


# ============================================================================================ codec, directly
def _empty_lists_frame(mib: float) -> bytes:
    from autograder.isolation import codec

    count = int(mib * 1024 * 1024) // 3
    header = b'{"v":[' + b"[]," * (count - 1) + b'[]],"b":[]}'
    pad = -(codec.FRAME.size + len(header)) % codec.ALIGN
    return codec.FRAME.pack(len(header) + pad, len(header) + pad) + header + b" " * pad


def test_header_over_the_limit_is_refused_from_the_frame_alone() -> None:
    """The 63 MiB header of empty lists: refused before a byte of the body is read (it used to be read, then
    parsed into ~1.5 GB of lists). Nothing but the 16-byte frame is written here, so a read would time out."""
    from autograder.isolation import codec

    frame = _empty_lists_frame(63)
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, frame[:codec.FRAME.size])
        with pytest.raises(codec.ProtocolError, match="header of 66,060,"):
            codec.receive(read_fd, lambda n: None, max_bytes=512 << 20, deadline=time.monotonic() + 5)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_header_of_too_many_containers_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the byte limit but 10M empty lists: counted on the raw bytes, refused without json.loads."""
    from autograder.isolation import codec

    frame = _empty_lists_frame(30)
    monkeypatch.setattr(codec.json, "loads", lambda *a, **k: pytest.fail("json.loads ran on a header of 10M lists"))
    with pytest.raises(codec.ProtocolError, match="too many items"):
        codec.unpack(frame[:codec.FRAME.size], bytearray(frame[codec.FRAME.size:]), lambda n: None)


@pytest.mark.parametrize("make", [
    pytest.param(lambda torch: torch.zeros(3).to_sparse(), id="sparse_coo"),
    pytest.param(lambda torch: torch.eye(3).to_sparse_csr(), id="sparse_csr"),
    pytest.param(lambda torch: torch.empty(3, device="meta"), id="meta"),
])
def test_sparse_and_meta_tensors_are_refused_with_a_reason(make: Callable[[Any], Any]) -> None:
    """They raised inside the worker's reply path, which killed the worker ("called sys.exit()")."""
    import torch

    from autograder.isolation import codec

    with pytest.raises(codec.ProtocolError, match="to_dense|meta"):
        codec.pack({"ok": [make(torch)]}, to_handle=lambda value: 1)


def test_a_value_whose_own_methods_raise_is_a_protocol_error() -> None:
    import torch

    from autograder.isolation import codec

    class Hostile(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            raise SystemExit(3)

    with pytest.raises(codec.ProtocolError, match="SystemExit"):
        codec.pack(torch.zeros(2).as_subclass(Hostile), to_handle=lambda value: 1)
