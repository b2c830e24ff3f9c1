"""Run the tests in a child process and account for every one of them, whatever the student's code does.

The parent never imports student code. It starts ``pytest -p autograder.plugin`` in a child (its own
session, a memory rlimit), reads the event stream, and enforces the per-test timeout and the overall deadline
itself, so an infinite loop in C code, a segfault, ``os._exit`` or an OOM kill cannot stop it. When the child
dies, the test that was running is charged with the reason and a fresh child runs the tests still owed. If the
child dies while importing the submission, the remaining tests that use the ``submission`` fixture are failed
with that reason instead of being re-run one crash at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.discovery import static_tests
from autograder.exits import describe_exit
from autograder.errors import AutograderError
from autograder.events import COLLECT_ERROR, COLLECTED, FINISHED, IMPORT, ISOLATION, RESULT, START, EventReader
from autograder.isolation import leftovers, sandbox
from autograder.metadata import TestInfo
from autograder.record import (CRASHED, FAILED, NOT_RUN, PASSED, SKIPPED, TIMEOUT, UNCOLLECTABLE,  # noqa: F401
                               Outcome, RunRecord)
from autograder.spec import AssignmentSpec, TestFolder

if TYPE_CHECKING:
    from autograder.isolation.proxy import WorkerSettings

POLL_S = 0.05
# Extra seconds the parent allows beyond a test's limit when isolated: the runner enforces the limit on the
# worker itself, and may need to start a fresh worker (torch import) within the same test; and between tests
# (collection, conftest imports) the time is the grader's own.
ISOLATION_GRACE_S = 30.0


@dataclass
class _Unit:
    """One child's worth of work: test files, optionally narrowed to node ids still owed."""

    paths: list[Path]
    only: list[str] | None = None


@dataclass
class _ChildState:
    collected: list[TestInfo] = field(default_factory=list)
    saw_collected: bool = False
    finished: bool = False
    current: str | None = None
    current_since: float = 0.0
    importing: str | None = None  # submission module being imported, if the child is inside that import
    collect_errors: list[dict[str, str]] = field(default_factory=list)
    stopped_for: str | None = None  # "timeout" / "deadline" / "silence" when the parent killed the child
    progressed: bool = False  # at least one test started or ended in this child
    returncode: int = 0


class Supervisor:
    """Grades one submission against one assignment; see the module docstring for the guarantees."""

    def __init__(self, spec: AssignmentSpec, submission_dir: Path, reference_dir: Path | None, *,
                 folders: tuple[str, ...] | None = None, seed: int | None = None,
                 python: str = sys.executable, isolate: bool = True, slot: int | None = None) -> None:
        self.spec = spec
        self.slot = sandbox.default_slot() if slot is None else slot  # grading slot: which pair of accounts runs the code (sandbox.slot_users)
        self.submission_dir = submission_dir
        self.reference_dir = reference_dir
        self.folders = [f for f in spec.test_folders if folders is None or f.name in folders]
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
        self.python = python
        self._outcomes: dict[str, Outcome] = {}
        self._order: list[str] = []
        self._info: dict[str, TestInfo] = {}
        self._notes: list[str] = []
        self._diagnostics: list[str] = []
        self._children = 0
        self.isolate = isolate
        self._isolation: dict[str, Any] = {"mode": "process" if isolate else "none (student code imported by the test process)"}

    # ------------------------------------------------------------ public
    def run(self) -> RunRecord:
        start = time.monotonic()
        self._deadline = start + self.spec.limits.deadline_s
        queue: list[_Unit] = [_Unit(paths=[f.path for f in self.folders])]
        with tempfile.TemporaryDirectory(prefix="autograder-") as scratch:
            self._scratch = Path(scratch)
            self._perf_settings = self._scratch / "perf.json"
            self._ini = self._scratch / "pytest.ini"
            self._ini.write_text("[pytest]\n", encoding="utf-8")  # keeps the course repo's pytest config out
            self._private_copies()
            accounts = sandbox.slot_accounts(self.slot) if self.isolate else None
            if self.spec.perf and not self.isolate:  # a local preview: the naive baseline, in-process
                self._perf_settings.write_text(json.dumps({
                    "declarations": [d.to_json() for d in self.spec.perf],
                    "baseline_dir": str(self.spec.baseline_dir) if self.spec.baseline_dir else None}), encoding="utf-8")
            # The lock comes first: even the account probe in _prepare_isolation runs as the grading account.
            with sandbox.AccountLock(accounts[0]) if accounts is not None else contextlib.nullcontext():
                # The clock starts once the accounts are ours: waiting for another run is not this run's time.
                self._isolation["waited_for_lock_s"] = round(time.monotonic() - start, 3)
                start = time.monotonic()
                self._deadline = start + self.spec.limits.deadline_s
                account = self._prepare_isolation(accounts) if self.isolate else None
                try:
                    while queue and time.monotonic() < self._deadline:
                        queue[:0] = self._run_unit(queue.pop(0))
                finally:
                    if account is not None:
                        assert accounts is not None
                        still_running = _still_running(accounts)  # said before they are killed: why, and which
                        killed = sandbox.kill_user_processes(account.uid)
                        sandbox.kill_user_processes(accounts[1].uid)  # this slot's reference account
                        self._isolation["processes_killed_after_run"] = killed
                        if still_running:
                            self._isolation["killed_after_run"] = {
                                "why": (f"still running under grading slot {self.slot}'s accounts when grading ended; "
                                        "every process of those accounts is ended before results.json is written, "
                                        "so nothing of the submission can outlive its grading or touch the next one"),
                                "processes": still_running}
                        self._isolation["leftovers_removed"] = {  # SysV IPC and temp files: nothing reaches the next run
                            a.name: leftovers.remove_leftovers(a.uid, a.gid, self.python) for a in accounts}
                    if self.isolate:
                        sandbox.remove_tree(self._worker_root)
        for nodeid in self._order:
            if nodeid not in self._outcomes:
                self._record(nodeid, NOT_RUN, reason=(
                    f"not run: grading reached its overall time limit of {self.spec.limits.deadline_s:g} s "
                    "before this test. Make the slow parts of your code faster; the tests above show which ran long."))
        for unit in queue:  # whole files never collected before the deadline
            for path in unit.paths:
                self._list_statically(path, NOT_RUN, "not run: grading reached its overall time limit first")
        outcomes = [self._outcomes[n] for n in self._order]
        return RunRecord(outcomes=outcomes, seed=self.seed, elapsed_s=time.monotonic() - start,
                         children=self._children, notes=self._notes, isolation=self._isolation,
                         diagnostics=self._diagnostics)

    # ------------------------------------------------------------ isolation
    def _prepare_isolation(self, accounts: "tuple[sandbox.Account, sandbox.Account] | None") -> "sandbox.Account | None":
        """Worker root, account and jail settings; the runner starts workers from these."""
        account = accounts[0] if accounts is not None else None
        if account is not None and (problem := sandbox.account_can_run(self.python, account)):
            raise AutograderError(problem)
        self._worker_root = sandbox.prepare_worker_root()
        rlimits = self.spec.limits.worker_rlimits()
        if account is not None:
            self._isolation["user"] = account.name
            self._isolation["slot"] = self.slot
        else:
            self._isolation["user"] = "same as the grader (not root)"
            self._notes.append("Your code ran in its own process, but as the grader's user: the grader was not "
                               "started as root, so no separate account could be used.")
        modules = sorted({Path(n).stem for n in self.spec.submission.files if n.endswith(".py")})
        self._worker_settings = self._scratch / "worker.json"
        self._worker_settings.write_text(json.dumps({
            **self._worker(self.submission_dir, account, rlimits).to_json(), "modules": modules}), encoding="utf-8")
        for module in self.spec.student_side:  # trusted helpers student_process.call runs in the worker
            target = self._worker_root / "lib" / f"{module}.py"
            shutil.copy2(self.spec.assignment_dir / "tests" / f"{module}.py", target)
            os.chmod(target, 0o644)
        if self.spec.perf:
            self._prepare_perf(rlimits, accounts[1] if accounts is not None else None)
        return account

    def _worker(self, folder: Path, account: "sandbox.Account | None", rlimits: dict[str, int]) -> "WorkerSettings":
        """How the runner starts a worker on ``folder`` (the submission's, or the reference's for perf tests)."""
        from autograder.isolation.proxy import WorkerSettings

        return WorkerSettings(self.python, self._worker_root, folder, sandbox.jail_settings(account, rlimits),
                              self.spec.limits.max_return_mb * 1024 * 1024)

    def _prepare_perf(self, rlimits: dict[str, int], reference_account: "sandbox.Account | None") -> None:
        """Perf tests need the input generators in the workers' lib/ and a reference worker of the same kind,
        under an account of its own so the student's worker cannot read the reference's files."""
        for declaration in self.spec.perf:
            module = declaration.inputs.rpartition(".")[0]
            shutil.copy2(self.spec.assignment_dir / "tests" / f"{module}.py", self._worker_root / "lib" / f"{module}.py")
            os.chmod(self._worker_root / "lib" / f"{module}.py", 0o644)
        self._perf_settings.write_text(json.dumps({
            "declarations": [d.to_json() for d in self.spec.perf],
            "reference_worker": None if self._reference_copy is None else
            self._worker(self._reference_copy, reference_account, rlimits).to_json(),
        }), encoding="utf-8")

    # ------------------------------------------------------------ bookkeeping
    def folder_of(self, relative_file: str) -> TestFolder:
        path = (self.spec.assignment_dir / relative_file).resolve()
        for folder in self.folders:
            if path.is_relative_to(folder.path.resolve()):
                return folder
        return self.folders[0]

    def _remember(self, info: TestInfo) -> None:
        if info.nodeid not in self._info:
            self._order.append(info.nodeid)
        self._info[info.nodeid] = info

    def _record(self, nodeid: str, kind: str, **fields: Any) -> None:
        info = self._info[nodeid]
        self._outcomes[nodeid] = Outcome(info=info, folder=self.folder_of(info.file), kind=kind, **fields)

    def _relative(self, path: Path) -> str:
        return str(path.resolve().relative_to(self.spec.assignment_dir.resolve()))

    def _list_statically(self, path: Path, kind: str, reason: str) -> None:
        """List the tests of a file (or folder) that never collected, charging each with ``reason``."""
        files = sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
        for file in files:
            relative = self._relative(file)
            found = static_tests(file, relative)
            if not found:  # not even parseable: one entry for the file, so the failure is visible
                found = [TestInfo(nodeid=relative, file=relative, function=Path(relative).stem)]
            for info in found:
                if info.nodeid not in self._outcomes:
                    self._remember(info)
                    self._record(info.nodeid, kind, reason=reason)

    # ------------------------------------------------------------ one child
    def _run_unit(self, unit: _Unit) -> list[_Unit]:
        """Run one child; return the units still owed (resumption after a crash, or per-file splits)."""
        state = self._watch_child(unit)
        for error in state.collect_errors:
            path = self.spec.assignment_dir / error["file"]
            self._list_statically(path, UNCOLLECTABLE, f"This test file could not be loaded: {error['message']}\n"
                                  "If the file imports your code, check that your code imports without errors.")
        if not state.saw_collected:
            if len(unit.paths) > 1 or (unit.paths and unit.paths[0].is_dir()):
                files = [f for p in unit.paths for f in (sorted(p.rglob("test_*.py")) if p.is_dir() else [p])]
                if len(files) > 1:
                    self._notes.append("The grader restarted while loading test files; they were loaded one by one.")
                    return [_Unit(paths=[f]) for f in files]
            reason = ("this test file could not be loaded: " + (state.stopped_for or "the grading process ended")
                      + ". If the file imports your code, check that your code imports without errors.")
            for path in unit.paths:
                self._list_statically(path, UNCOLLECTABLE, reason)
            return []
        owed = [i.nodeid for i in state.collected if i.nodeid not in self._outcomes]
        if not owed or state.finished:
            return []
        if state.stopped_for == "deadline":
            return []  # run() lists what is owed as not run
        if not state.progressed:  # died before any test could start: retrying would loop until the deadline
            for nodeid in owed:
                self._record(nodeid, CRASHED, reason=f"The grader's test process stopped before this test could start: "
                                                     f"{describe_exit(state.returncode)}.")
            return []
        return [_Unit(paths=unit.paths, only=owed)]

    def _private_copies(self) -> None:
        """Isolated runs give the runner root-only copies of the tests and the reference (in the 0700 scratch).

        Student code can read the runner's command line (/proc/PID/cmdline is world-readable): with the course
        checkout's paths there, a TA's local ``grade`` handed it the hidden tests and the reference, wherever the
        checkout is readable. Gradescope's /autograder/source is root-only already; this makes every run so.
        """
        self._tests_root, self._reference_copy = self.spec.assignment_dir, self.reference_dir
        if not self.isolate:
            return
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        self._tests_root = self._scratch / "assignment"
        shutil.copytree(self.spec.assignment_dir, self._tests_root, symlinks=False, ignore=ignore)
        if self.reference_dir is not None:
            self._reference_copy = self._scratch / "reference"
            shutil.copytree(self.reference_dir, self._reference_copy, symlinks=False, ignore=ignore)

    def _in_copy(self, path: Path) -> Path:
        return self._tests_root / path.resolve().relative_to(self.spec.assignment_dir.resolve())

    def _command(self, unit: _Unit, write_fd: int) -> list[str]:
        # No terminal reporter: its progress characters would land in the tests' captured output.
        command = [self.python, "-m", "pytest", "-p", "autograder.plugin", "-p", "no:cacheprovider",
                   "-p", "no:terminal", "-c", str(self._ini), "--rootdir", str(self._tests_root),
                   "--ag-events-fd", str(write_fd), "--ag-submission", str(self._workdir), "--ag-seed", str(self.seed),
                   "--ag-test-timeout", str(self.spec.limits.test_timeout_s)]
        if self.isolate:
            command += ["--ag-isolation", "process", "--ag-worker-settings", str(self._worker_settings)]
        if self.spec.perf:
            command += ["--ag-perf", str(self._perf_settings)]
        if self.spec.student_side:
            command += ["--ag-student-side", ",".join(self.spec.student_side)]
        if self._reference_copy is not None:
            command += ["--ag-reference", str(self._reference_copy)]
        if unit.only is not None:
            only = self._scratch / f"only-{self._children}.txt"
            only.write_text("\n".join(unit.only), encoding="utf-8")
            command += ["--ag-only", str(only)]
        return command + [str(self._in_copy(p)) for p in unit.paths]

    def _fresh_workdir(self) -> Path:
        """The child's working directory. Isolated: an empty folder (student code never runs in the runner).
        In-process: a scratch copy of the submission, so student code that writes files cannot touch the original."""
        workdir = self._scratch / f"submission-{self._children}"
        if self.isolate:
            workdir.mkdir()
            return workdir
        shutil.copytree(self.submission_dir, workdir, symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
        return workdir

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AUTOGRADER_"))}
        framework_parent = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([framework_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _limits(self) -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if not self.isolate:  # isolated: the worker limits itself; the runner holds trusted code only
            memory = self.spec.limits.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    def _watch_child(self, unit: _Unit) -> _ChildState:
        self._children += 1
        self._workdir = self._fresh_workdir()
        read_fd, write_fd = os.pipe()
        log = (self._scratch / f"child-{self._children}.log").open("wb")
        try:
            child = subprocess.Popen(self._command(unit, write_fd), cwd=self._workdir, env=self._environment(),
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     pass_fds=(write_fd,), start_new_session=True, preexec_fn=self._limits)
        finally:
            os.close(write_fd)
            log.close()
        reader = EventReader(read_fd)
        state = _ChildState()
        last_event = time.monotonic()
        grace = ISOLATION_GRACE_S if self.isolate else 0.0
        try:
            while True:
                for event in reader.poll(POLL_S):
                    last_event = time.monotonic()
                    self._apply(event, state)
                if reader.closed and child.poll() is not None:
                    break
                now = time.monotonic()
                if state.current is not None:
                    limit = self._info[state.current].timeout_s or self.spec.limits.test_timeout_s
                    if now - state.current_since > limit + grace:
                        state.stopped_for = TIMEOUT
                elif now - last_event > self.spec.limits.test_timeout_s + grace:
                    # stuck outside any test: collection or module import. Isolated, the student's code imports in
                    # the worker under the runner's own limit, and this child's start (pytest, torch, conftests)
                    # is the grader's: on a loaded machine it alone outlasted a 5 s test limit.
                    state.stopped_for = "silence"
                if now > self._deadline:
                    state.stopped_for = "deadline"
                if state.stopped_for:
                    _kill_group(child)
                    break
        finally:
            returncode = child.wait() if child.poll() is None else child.returncode
            _kill_group(child)  # anything the student's code left running in the session
            os.close(read_fd)
        state.returncode = returncode
        if not state.saw_collected:  # the grader's own start failed: keep its words for the TA (extra_data only)
            log_text = (self._scratch / f"child-{self._children}.log").read_text(encoding="utf-8", errors="replace")
            self._diagnostics.append(log_text[-3000:])
        self._settle(state, returncode)
        return state

    def _apply(self, event: dict[str, Any], state: _ChildState) -> None:
        kind = event.get("event")
        if kind == COLLECTED:
            state.saw_collected = True
            state.collected = [TestInfo.from_json(t) for t in event.get("tests", [])]
            for info in state.collected:
                self._remember(info)
        elif kind == COLLECT_ERROR:
            state.collect_errors.append({"file": event.get("file", ""), "message": event.get("message", "")})
        elif kind == START:
            state.current, state.current_since = event["nodeid"], time.monotonic()
            state.progressed = True
        elif kind == IMPORT and event.get("side") == "submission":
            state.importing = event["module"] if event.get("state") == "start" else None
        elif kind == RESULT:
            nodeid = event["nodeid"]
            if event.get("leaderboard_column"):  # a perf test's column comes from its [perf] declaration
                self._info[nodeid].leaderboard_column = event["leaderboard_column"]
                self._info[nodeid].leaderboard_order = "asc"
            self._record(nodeid, _kind_from_phases(event.get("phases", [])), phases=event.get("phases", []),
                         stdout=event.get("stdout", ""), stderr=event.get("stderr", ""), score=event.get("score"),
                         leaderboard_value=event.get("leaderboard_value"), duration_s=event.get("duration_s", 0.0),
                         perf=event.get("perf"))
            state.current = None
        elif kind == FINISHED:
            state.finished = True
        elif kind == ISOLATION:
            workers = event.get("workers") or []
            self._isolation["workers_started"] = self._isolation.get("workers_started", 0) + int(event.get("started", 0))
            if workers:
                self._isolation["network"] = workers[-1].get("network")
                self._isolation["rlimits"] = workers[-1].get("rlimits")
                if str(workers[-1].get("network", "")).startswith("open") and "network_note" not in self._isolation:
                    self._isolation["network_note"] = True
                    self._notes.append(f"Network access for your code: {workers[-1]['network']}.")

    def _settle(self, state: _ChildState, returncode: int) -> None:
        """Charge the test that was running when the child stopped, and its dependants if an import died."""
        if state.current is None or state.current in self._outcomes:
            return
        nodeid = state.current
        elapsed = time.monotonic() - state.current_since
        if state.stopped_for == TIMEOUT:
            limit = self._info[nodeid].timeout_s or self.spec.limits.test_timeout_s
            why = (f"This test was stopped after {limit:g} s (its time limit). Look for an infinite loop or very slow "
                   "code in the functions it calls.")
            kind = TIMEOUT
        elif state.stopped_for == "deadline":
            why = (f"Grading reached its overall time limit of {self.spec.limits.deadline_s:g} s while this test ran. "
                   "Make the slow parts of your code faster.")
            kind = TIMEOUT
        else:
            why = f"The grader's test process stopped while this test ran: {describe_exit(returncode)}."
            kind = CRASHED
        if state.importing is not None:
            why += f" This happened while importing your {state.importing}.py, so every test that needs it fails the same way."
            for other in self._order:
                if other not in self._outcomes and "submission" in self._info[other].fixtures and other != nodeid:
                    self._record(other, kind, reason=why)
        self._record(nodeid, kind, reason=why, duration_s=round(elapsed, 3))


def _still_running(accounts: "tuple[sandbox.Account, sandbox.Account]", limit: int = 20) -> list[dict[str, Any]]:
    """The processes of a slot's accounts still alive at the end of a run: account, pid and the kernel's short
    name for it (/proc/PID/comm, chosen by the process: kept printable and short, it is data, not a fact)."""
    found = []
    for account in accounts:
        for pid in sandbox.user_processes(account.uid)[:limit]:
            try:
                name = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                continue
            found.append({"account": account.name, "pid": pid,
                          "name": "".join(c if c.isprintable() else "?" for c in name)[:32]})
    return found[:limit]


def _kind_from_phases(phases: list[dict[str, Any]]) -> str:
    if any(p.get("outcome") == "failed" for p in phases):
        return FAILED
    skipped = [p for p in phases if p.get("outcome") == "skipped"]
    if skipped:
        return PASSED if all(p.get("xfail") for p in skipped) else SKIPPED
    return PASSED


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
