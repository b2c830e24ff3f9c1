"""The pytest plugin that runs inside the grading child process.

It provides the fixtures tests use (``submission``, ``reference``, ``rng``, ``seed``, ``set_score``,
``set_leaderboard_value``), registers the grading markers, and streams raw facts about every test to the
parent (see :mod:`autograder.events`): what was collected, when each test starts, how each ended. It decides
nothing about scores or what a student may see; the parent (:mod:`autograder.supervisor`) does, so a crash
here loses at most the test that was running.

Load it with ``pytest -p autograder.plugin``; without ``--ag-events-fd`` it only provides fixtures, which is
how a TA runs one test file by hand.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from autograder import escape
from autograder.events import COLLECT_ERROR, COLLECTED, FINISHED, IMPORT, ISOLATION, RESULT, START, EventWriter, cap
from autograder.loading import PackageView, StudentCodeError, student_frames
from autograder.metadata import MARKERS, read_metadata

_WRITER = pytest.StashKey["EventWriter | None"]()
_STATE = pytest.StashKey[dict]()
_ITEM_RECORD = pytest.StashKey[dict]()
_POOL = pytest.StashKey[Any]()
_REMOTE = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograder")
    group.addoption("--ag-submission", default=None, help="folder holding the student's files")
    group.addoption("--ag-reference", default=None, help="folder holding the reference solution")
    group.addoption("--ag-seed", type=int, default=None, help="run seed (fresh per run when omitted)")
    group.addoption("--ag-events-fd", type=int, default=None, help="file descriptor for the event stream")
    group.addoption("--ag-only", default=None, help="file listing the node ids to run, one per line")
    group.addoption("--ag-isolation", choices=("none", "process"), default="none",
                    help="none: import the submission here (a student's local run); process: run it in a worker")
    group.addoption("--ag-worker-settings", default=None, help="JSON file describing how to start workers")
    group.addoption("--ag-test-timeout", type=float, default=60.0, help="seconds each test may spend in student code")
    group.addoption("--ag-perf", default=None, help="JSON file with the perf declarations and how to reach the reference side")
    group.addoption("--ag-student-side", default="", help="comma-separated trusted helper modules (tests/NAME.py) "
                    "that student_process.call may run in the student's process")



def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_CollectErrors(config), "autograder-collect-errors")
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    fd = config.getoption("--ag-events-fd", None)
    config.stash[_WRITER] = EventWriter(fd) if fd is not None else None
    seed = config.getoption("--ag-seed", None)
    config.stash[_STATE] = {"seed": seed if seed is not None else int.from_bytes(os.urandom(4), "little")}
    if _POOL not in config.stash and config.getoption("--ag-isolation", "none") == "process":
        _start_isolation(config, config.option)  # the early hook below did not run
    config.stash.setdefault(_POOL, None)
    _install_compat(config)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Start the first worker before the assignment's conftest.py is imported: that import (torch) takes over
    a second, and the worker's own torch import then runs beside it instead of after it (measured on a1: the
    first test waited ~1 s for its worker when the worker started at configure time)."""
    options = early_config.known_args_namespace
    if getattr(options, "ag_isolation", "none") == "process":
        _start_isolation(early_config, options)


def _start_isolation(config: pytest.Config, options: Any) -> None:
    """Start the first worker and route student imports to it (``options``: parsed --ag-* options)."""
    import json
    import sys

    from autograder.isolation.proxy import RemoteSubmission, SubmissionModuleFinder, WorkerPool, WorkerSettings
    from autograder.perf.allocator import set_allocator

    raw = json.loads(Path(options.ag_worker_settings).read_text(encoding="utf-8"))
    pool = WorkerPool(WorkerSettings.from_json(raw))
    pool.outside_test_s = float(options.ag_test_timeout)
    pool.start()
    set_allocator("steady")  # this side of the channel reuses its 1 MB receive buffers too (perf/allocator.py)
    view = RemoteSubmission(pool)
    sys.meta_path.insert(0, SubmissionModuleFinder(raw.get("modules", []), view))
    config.stash[_POOL], config.stash[_REMOTE] = pool, view


def _program_runner(config: pytest.Config) -> Any:
    """Where the student's programs run (``student_process.run``, routed ``subprocess`` calls): their worker in
    graded runs, a subprocess in the submission folder in a local check; None without a submission folder."""
    state = config.stash[_STATE]
    if "programs" not in state:
        from autograder.isolation.programs import local_runner, remote_runner  # torch-free: runner start-up

        pool = config.stash.get(_POOL, None)
        folder = config.getoption("--ag-submission", None)
        state["programs"] = remote_runner(pool) if pool is not None else local_runner(Path(folder)) if folder else None
    return state["programs"]


def _install_compat(config: pytest.Config) -> None:
    """Unchanged gradescope-utils files: their subprocess calls run in the sandbox, check_submitted_files sees
    the submission (autograder/compat.py)."""
    import json

    from autograder import compat

    runner = _program_runner(config)
    if runner is None:
        return
    settings = config.getoption("--ag-worker-settings", None)
    graded = Path(json.loads(Path(settings).read_text(encoding="utf-8"))["submission"]) if settings else None
    local = Path(config.getoption("--ag-submission"))
    compat.install(runner, config.rootpath, graded or local, exclude=local.resolve())


def pytest_unconfigure(config: pytest.Config) -> None:
    from autograder import compat

    compat.uninstall()
    harness = config.stash[_STATE].get("perf_harness")
    if harness is not None:
        harness.close()
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        _emit(config, ISOLATION, workers=pool.reports, lost=pool.lost[-20:], started=pool.generation)
        pool.close()
    writer = config.stash.get(_WRITER, None)
    if writer is not None:
        writer.emit(FINISHED)
        writer.close()


def _emit(config: pytest.Config, kind: str, **payload: Any) -> None:
    writer = config.stash.get(_WRITER, None)
    if writer is not None:
        writer.emit(kind, **payload)


def _relative(config: pytest.Config, path: Path | str) -> str:
    try:
        return str(Path(path).resolve().relative_to(config.rootpath.resolve()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- collection
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    only = config.getoption("--ag-only", None)
    if only:
        wanted = [line.strip() for line in Path(only).read_text(encoding="utf-8").splitlines() if line.strip()]
        by_id = {item.nodeid: item for item in items}
        items[:] = [by_id[nodeid] for nodeid in wanted if nodeid in by_id]
    tests = []
    for item in items:
        info = read_metadata(item, item.nodeid, _relative(config, item.path))
        if info.timeout_s is None and "perf" in item.fixturenames:
            info.timeout_s = PERF_TEST_TIMEOUT_S  # the parent's watchdog must know it too
        tests.append(info.to_json())
    _emit(config, COLLECTED, tests=tests)


class _CollectErrors:
    """Streams a test file's collection failure to the parent. Collect reports carry no config of their own, so
    this plugin object holds it (registered in pytest_configure) instead of a module global."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.failed:
            return
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else (str(report.longrepr) or "could not be collected")
        if message.startswith(("autograder.", "student.")):  # our own exception types: the text is the message
            message = message.split(": ", 1)[-1]
        _emit(self.config, COLLECT_ERROR, file=report.nodeid, message=cap(message, 4000))


# ---------------------------------------------------------------- running
@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """START before setup, RESULT after teardown: the parent charges a test that never reports."""
    _emit(item.config, START, nodeid=item.nodeid)
    outcome = yield
    _emit_result(item)
    return outcome


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_ITEM_RECORD] = {"started": time.perf_counter(), "phases": [], "stdout": "", "stderr": ""}
    for holder in (getattr(item, "obj", None), getattr(getattr(item, "obj", None), "__func__", None)):
        for attribute in ("__score__", "__leaderboard_value__"):
            if holder is not None and attribute in getattr(holder, "__dict__", {}):
                delattr(holder, attribute)  # a previous run's value must not leak into this one
    _skip_missing_device(item)
    pool = item.config.stash.get(_POOL, None)
    if pool is not None:
        pool.deadline = time.monotonic() + test_time_limit(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    record = item.stash.setdefault(_ITEM_RECORD, {"started": time.perf_counter(), "phases": [], "stdout": "", "stderr": ""})
    record["stdout"] = report.capstdout  # each phase's report repeats the earlier phases' sections
    record["stderr"] = report.capstderr
    pool = item.config.stash.get(_POOL, None)
    if pool is not None:
        record["worker_output"] = record.get("worker_output", "") + pool.take_output()
    if report.failed or report.skipped:
        record["phases"].append(_describe_phase(item, call, report))
    return report


def _describe_phase(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> dict[str, Any]:
    """Raw facts about a failed or skipped phase; the parent decides what of it a student may see."""
    phase: dict[str, Any] = {"when": report.when, "outcome": report.outcome}
    if hasattr(report, "wasxfail"):
        phase["xfail"] = True
    if report.skipped and isinstance(report.longrepr, tuple):
        phase["message"] = str(report.longrepr[2]).removeprefix("Skipped: ")
        return phase
    excinfo = call.excinfo
    if excinfo is None:
        phase["message"] = cap(str(report.longrepr), 4000)
        return phase
    submission_dir = item.config.getoption("--ag-submission", None)
    exc = excinfo.value
    phase["exception"] = type(exc).__name__
    if isinstance(exc, StudentCodeError):
        phase["origin"] = "load"
        phase["message"] = cap(str(exc), 4000)
        return phase
    remote_frames = getattr(exc, "frames", None)
    if type(exc).__module__ == "student" and remote_frames is not None:  # raised in the worker, by student code
        # Everything here was reported by the student's process: data to validate, never structure to trust.
        phase["origin"] = "student"
        phase["exception"] = escape.one_line(getattr(exc, "type_name", type(exc).__name__), 100)
        phase["message"] = cap(escape.strip_control(getattr(exc, "display", None) or str(exc)), 4000)
        phase["student_frames"] = escape.frames(remote_frames)
        return phase
    frames = student_frames(exc, Path(submission_dir)) if submission_dir else []
    innermost = excinfo.traceback[-1].path if len(excinfo.traceback) else None
    in_student = bool(submission_dir) and innermost is not None and _inside(Path(str(innermost)), Path(submission_dir))
    phase["origin"] = "student" if in_student else "test"
    phase["message"] = cap(excinfo.exconly(), 4000)
    phase["student_frames"] = frames[-20:]
    return phase


def _inside(path: Path, directory: Path) -> bool:
    try:
        return path.resolve().is_relative_to(directory.resolve())
    except (OSError, ValueError):
        return False


def _emit_result(item: pytest.Item) -> None:
    record = item.stash.get(_ITEM_RECORD, None)
    if record is None:
        return
    config = item.config
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        pool.deadline = None
    obj = getattr(item, "obj", None)
    score = getattr(obj, "__score__", None)
    score = record.get("score") if score is None else score
    board = getattr(obj, "__leaderboard_value__", None)
    board = record.get("leaderboard_value") if board is None else board
    _emit(config, RESULT, nodeid=item.nodeid, phases=record["phases"],
          stdout=cap(record.get("worker_output", "") + record["stdout"]), stderr=cap(record["stderr"]),
          score=score, leaderboard_value=board, duration_s=round(time.perf_counter() - record["started"], 4),
          perf=record.get("perf"), leaderboard_column=record.get("leaderboard_column"))


# ---------------------------------------------------------------- fixtures
def _test_seed(config: pytest.Config, nodeid: str) -> int:
    """Per-test seed derived from the run seed, so a rerun after a crash sees the same inputs."""
    digest = hashlib.sha256(f"{config.stash[_STATE]['seed']}:{nodeid}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A fresh seed for this test (the run seed is recorded in results.json for audits)."""
    return _test_seed(request.config, request.node.nodeid)


@pytest.fixture
def rng(seed: int) -> Any:
    """A ``torch.Generator`` seeded for this test: inputs the student has never seen, reproducible per run."""
    import torch

    return torch.Generator().manual_seed(seed)


def forget_submission(config: pytest.Config) -> None:
    """Make the next ``submission`` fixture import the student's files afresh (the mutation worker reruns the
    same tests against one mutant after another in a single session)."""
    config.stash[_STATE].pop("--ag-submission", None)


def _view(request: pytest.FixtureRequest, option: str, label: str, namespace: str | None) -> PackageView:
    cache = request.config.stash[_STATE]
    if option not in cache:
        folder = request.config.getoption(option, None)
        if folder is None and label == "reference":
            pytest.skip("compares with the reference solution, which only the grader has; it runs on Gradescope")
        if folder is None:
            pytest.fail(f"no {label} folder given; run through `autograder grade` or pass {option}=DIR", pytrace=False)
        config = request.config

        def on_import(module: str, state: str) -> None:
            _emit(config, IMPORT, module=module, state=state, side=label)

        cache[option] = PackageView(Path(folder), label=label, namespace=namespace,
                                    on_import=on_import if namespace is None else None)
    return cache[option]


@pytest.fixture
def submission(request: pytest.FixtureRequest) -> Any:
    """The student's files as a package: ``submission.execution_modes.predict(...)``.

    Graded runs hand out a proxy to the student's own process; a student's local run imports the files here.
    """
    remote = request.config.stash.get(_REMOTE, None)
    if remote is not None:
        return remote
    return _view(request, "--ag-submission", "submission", None)


@pytest.fixture
def reference(request: pytest.FixtureRequest) -> PackageView:
    """The reference solution as a package, imported under a private name beside the submission."""
    return _view(request, "--ag-reference", "reference", "_autograder_reference")


@pytest.fixture
def set_score(request: pytest.FixtureRequest) -> Callable[[float], None]:
    """Award part of a partial_credit test's points: ``set_score(2.5)``."""
    def _set(value: float) -> None:
        request.node.stash[_ITEM_RECORD]["score"] = float(value)
    return _set


@pytest.fixture
def set_leaderboard_value(request: pytest.FixtureRequest) -> Callable[[Any], None]:
    """Report this test's leaderboard value: ``set_leaderboard_value(0.93)``."""
    def _set(value: Any) -> None:
        request.node.stash[_ITEM_RECORD]["leaderboard_value"] = value
    return _set


@pytest.fixture
def student_process(request: pytest.FixtureRequest) -> Any:
    """Trusted work in the student's process: ``student_process.build(model)`` (a copy of a model, built
    there, as a handle), ``.seed(n)``, ``.call("module.function", ...)``, ``.run(argv, ...)`` (one of the
    student's programs, inside the sandbox); see autograder/kit/process.py."""
    from autograder.kit.process import StudentProcess, local_caller, remote_caller

    keep = tuple(name for name in request.config.getoption("--ag-student-side").split(",") if name)
    pool = request.config.stash.get(_POOL, None)
    if pool is not None:
        return StudentProcess(remote_caller(pool), keep, runner=_program_runner(request.config))
    return StudentProcess(local_caller(request.config.rootpath / "tests"), keep, runner=_program_runner(request.config))


@pytest.fixture
def submitted_source(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``submitted_source("execution_modes.py")``: the text of a submitted file as the student submitted it,
    read by the test process (student code cannot change what this returns)."""
    import json

    settings = request.config.getoption("--ag-worker-settings", None)
    if settings:
        folder = Path(json.loads(Path(settings).read_text(encoding="utf-8"))["submission"])
    else:
        folder = Path(request.config.getoption("--ag-submission") or ".")

    def read(name: str) -> str:
        path = folder / name
        if not path.is_file():
            raise AssertionError(f"{name} was not submitted")
        return path.read_text(encoding="utf-8", errors="replace")
    return read


PERF_TEST_TIMEOUT_S = 180.0


def test_time_limit(item: pytest.Item) -> float:
    """A test's limit: its timeout marker, else 180 s for perf tests (they measure for a while), else the spec's."""
    marker = item.get_closest_marker("timeout")
    if marker and marker.args:
        return float(marker.args[0])
    if "perf" in getattr(item, "fixturenames", ()):
        return PERF_TEST_TIMEOUT_S
    return float(item.config.getoption("--ag-test-timeout"))


def _skip_missing_device(item: pytest.Item) -> None:
    """Skip tests marked ``requires("cuda")`` when no such device is present."""
    marker = item.get_closest_marker("requires")
    if marker is None or not marker.args:
        return
    device = str(marker.args[0])
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU; this grader has none, so staff grade it on a GPU machine")


@pytest.fixture
def perf(request: pytest.FixtureRequest) -> Any:
    """Measure a ``[perf.NAME]`` declaration of assignment.toml and score this test on its credit curve::

        @weight(3)
        def test_predict_speed(perf):
            \"\"\"predict is about as fast as the reference\"\"\"
            perf.check("predict_time")
    """
    from autograder.perf.harness import PerfHarness, TestPerf

    state = request.config.stash[_STATE]
    if "perf_harness" not in state:
        state["perf_harness"] = PerfHarness.from_config(request.config, state, request.config.stash.get(_POOL, None))
    item = request.node
    weight = read_metadata(item, item.nodeid, "").weight
    return TestPerf(state["perf_harness"], item.stash[_ITEM_RECORD], weight)
