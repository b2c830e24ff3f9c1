"""The attack suite: hostile a1 submissions, graded end to end the way Gradescope runs the autograder zip.

Each attack is the honest a1 reference plus one piece of hostile code from ``tests/data/attacks/<name>.py``
(module-level code that runs at import, or a wrapper around one function that attacks and then returns, or
breaks, that function's result). Attacks that do not interfere with each other share one submission (a
*group*), so the suite grades five submissions instead of twenty-one; every attack keeps its own test id.

A grade works like Gradescope: ``autograder.zip`` (built once per session by ``build_autograder_zip``) is
unpacked into a temporary root laid out like ``/autograder`` (``source/``, ``submission/``, ``results/``, and
``run_autograder`` copied to the root as Gradescope does), and ``source/run_autograder`` runs as this user (root
on CI) with ``AUTOGRADER_ROOT`` set and ``AUTOGRADER_VENV`` pointing at the venv running these tests. It runs
under a small subreaper (``WRAPPER``) that reaps orphans promptly, as a container's init does, and keeps every
process the run leaves behind in its own subtree: leftovers are looked for, and killed afterwards, there only,
never machine-wide (another grading run on the same machine may be using the same grading account).

Before grading, a random canary line is put at the top of the unpacked hidden tests and reference, so that any
leak of their text is recognisable in results.json. Attacks report what they tried, and what happened, in
JSON lines under a world-writable evidence folder the test reads afterwards (see ``_common.py``), and echo it
on stdout, so whatever secret they manage to read would also surface in results.json.

For every attack: results.json exists, parses, passes the schema, lists the same tests as the honest
reference's run, scores exactly what the honest part earns (tests whose function the attack itself breaks
fail, every other test passes), is unchanged 2 s after run_autograder returned, holds no hidden-test or
reference text; run_autograder is unchanged. As root also: the student code ran as autograder-student and no
process of that account is left (nor any heartbeat of an attack's daemon after the run returned).

The grades are slow (a1 imports torch in the runner and in every worker; the infinite loop costs the 60 s test
timeout): about 2-3 minutes in all on 2 cores. The codec tests at the end are fast.
"""

from __future__ import annotations

import json
import os
import pwd
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from gradescope_root import clean_env, unpack

from autograder.isolation import codec, sandbox
from autograder.layout import CourseLayout
from autograder.packaging import build_autograder_zip
from autograder.results_schema import validate_results
from autograder.spec import AssignmentSpec, load_spec

REPO = Path(__file__).resolve().parents[1]
SLUG = "a1_execution_modes"
MODULE_FILE = "execution_modes.py"
ATTACKS_DIR = REPO / "tests" / "data" / "attacks"
STUDENT = sandbox.slot_users()[0]  # this session's slot ($AUTOGRADER_SLOT; tests/conftest.py gives each xdist worker its own)
IS_ROOT = os.geteuid() == 0
NOT_ROOT = ("needs root, as on CI and Gradescope: only a grader started as root runs student code as the separate "
            f"account {STUDENT}, whose processes it kills and whose missing rights these checks are about")
HAVE_A1 = (REPO / "assignments" / SLUG / "assignment.toml").is_file()
SECRET_LINE_CHARS = 25
WAIT_AFTER_RUN_S = 2.0

# The wrapper every grade runs under (root, a child subreaper). It starts run_autograder (output to a file), reaps
# every orphan of the run at once, as a container's init does (tini, docker --init), and prints
# "exit <code>" when run_autograder ends. Every process the run leaves behind stays in the wrapper's subtree
# (orphans are reparented to the nearest subreaper), so the test can find them there without touching other
# processes of the grading account (another grading run on the machine may be using it). On "clean" it kills
# its whole subtree (children lists, re-read until empty: fast enough to catch a pid-hopping process) and
# prints what it had to kill as one JSON line.
WRAPPER = r"""
import ctypes, json, os, sys, threading, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
out = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
child = os.posix_spawn(sys.argv[1], [sys.argv[1]], os.environ, file_actions=[
    (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, out, 2)])
os.close(out)
me = os.getpid()

def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            time.sleep(0.005)
            continue
        if pid == child:
            print("exit", os.waitstatus_to_exitcode(status), flush=True)

def children(pid):
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as stream:
                found += [int(p) for p in stream.read().split()]
    except OSError:
        pass
    return found

def children_by_scan(pid):  # kernels without /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN)
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stream:
                    if int(stream.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found

if not os.path.exists(f"/proc/{me}/task/{me}/children"):
    children = children_by_scan

def describe(pid):
    try:
        with open(f"/proc/{pid}/status") as stream:
            fields = dict(line.split(":", 1) for line in stream if ":" in line)
        if fields["State"].split()[0] in ("Z", "X"):
            return None  # dead already, waiting to be reaped
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            command = stream.read(160).replace(b"\0", b" ").decode(errors="replace")
        return {"pid": pid, "uid": int(fields["Uid"].split()[0]), "command": command}
    except (OSError, KeyError, IndexError):
        return None

threading.Thread(target=reap, daemon=True).start()
for line in sys.stdin:
    if line.strip() == "clean":
        break
killed, quiet, deadline = {}, 0, time.monotonic() + 30
while quiet < 200 and time.monotonic() < deadline:
    todo, found = [me], []
    while todo:
        for pid in children(todo.pop()):
            found.append(pid)
            todo.append(pid)
    for pid in found:
        if killed.get(pid) is None:
            killed[pid] = describe(pid)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    quiet = 0 if found else quiet + 1
    time.sleep(0.0005 if found else 0.001)
print(json.dumps({"killed": [v for v in killed.values() if v]}), flush=True)
"""


# ============================================================================================ the attacks
@dataclass(frozen=True)
class Attack:
    name: str
    group: str
    breaks: tuple[str, ...] = ()      # test functions this attack's own code breaks (they must fail, nothing else)
    needs_account: bool = True        # meaningful only as root, where student code runs as the grading account


ATTACKS = [
    # -- group "tamper": module-level tampering; the worker lives through the whole run
    Attack("sockets", "tamper", needs_account=False),
    Attack("write_results_json", "tamper"),
    Attack("append_run_autograder", "tamper"),
    Attack("read_secrets", "tamper"),
    Attack("proc_inspect_parent", "tamper"),
    Attack("daemon_rewrites_results", "tamper"),
    Attack("monkeypatch", "tamper", breaks=("test_layer_flops_default_sizes", "test_layer_flops_random_mlps"),
           needs_account=False),
    # -- group "crash": one function per test, each attack hits one test; a fresh worker serves the rest
    Attack("signals", "crash"),
    Attack("os_exit", "crash", breaks=("test_get_device",), needs_account=False),
    Attack("oversize_frame", "crash", breaks=("test_relu_backward",), needs_account=False),
    Attack("reduce_object", "crash", breaks=("test_linear_backward",), needs_account=False),
    Attack("crafted_2gb_tensor", "crash", breaks=("test_predict",), needs_account=False),
    Attack("sys_exit", "crash", breaks=("test_sgd_step_matches_reference", "test_sgd_step_time"), needs_account=False),
    Attack("infinite_loop", "crash", breaks=("test_layer_flops_rejects_unknown_mode",), needs_account=False),
    Attack("memory_bomb", "crash", breaks=("test_saved_activation_bytes_deep_and_dtypes",), needs_account=False),
    # -- group "processes": many processes, much output, hostile return values
    Attack("fork_bomb", "processes"),
    Attack("print_10mb", "processes", needs_account=False),
    Attack("tensor_subclass", "processes", needs_account=False),
    Attack("crafted_zero_stride_tensor", "processes", breaks=("test_predict",), needs_account=False),
    # -- group "hopping": alone, so its clean-up is tested on its own
    Attack("daemon_pid_hopping", "hopping"),
]
BY_NAME = {attack.name: attack for attack in ATTACKS}
GROUPS: dict[str, list[Attack]] = {}
for _attack in ATTACKS:
    GROUPS.setdefault(_attack.group, []).append(_attack)


# ============================================================================================ grading harness
def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def process_status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
    except OSError:
        return {}


def subtree(root: int) -> list[int]:
    """Every process below ``root`` (one scan of /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return found


def left_behind(wrapper: int) -> list[str]:
    """Processes of this grade still able to run (zombies are dead: they only await their parent)."""
    found = []
    for pid in subtree(wrapper):
        status = process_status(pid)
        state = status.get("State", "gone").split()[0]
        if state not in ("Z", "X", "gone"):
            uid = int(status.get("Uid", "-1").split()[0])
            try:
                owner = pwd.getpwuid(uid).pw_name
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
            except (OSError, KeyError):
                owner, command = str(uid), "?"
            found.append(f"{pid} ({owner}, {state}): {command}")
    return found


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


class Listener:
    """A TCP service on this machine's loopback, for the sockets attack to try to reach."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, address = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections.append(address)
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@dataclass
class GroupRun:
    """What one grade of one group's submission left behind."""

    group: str
    root: Path
    evidence_dir: Path
    returncode: int
    output: str  # run_autograder's stdout and stderr
    started_at: float
    returned_at: float
    results_bytes: bytes | None
    results_bytes_later: bytes | None
    scripts: dict[str, tuple[bytes, bytes | None]]  # path -> (expected, found after the run)
    live_at_return: list[str]
    live_later: list[str]
    killed_in_cleanup: list[dict[str, Any]]  # what was still running when the test cleaned up, after its checks
    results: dict[str, Any] | None = None
    parse_error: str = ""
    _records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def records(self, attack: str) -> list[dict[str, Any]]:
        if attack not in self._records:
            path = self.evidence_dir / f"{attack}.jsonl"
            found = []
            if path.is_file():
                for line in path.read_text(errors="replace").splitlines():
                    try:
                        found.append(json.loads(line))
                    except ValueError:
                        pass  # a line cut short when its writer was killed
            self._records[attack] = found
        return self._records[attack]

    def evidence_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.evidence_dir.glob("*.jsonl")))

    def test(self, function: str) -> dict[str, Any]:
        assert self.results is not None
        found = [t for t in self.results["tests"] if t["extra_data"]["nodeid"].split("::")[-1] == function]
        assert found, f"no test {function} in results.json; the a1 tests changed? (attack definitions name it)"
        return found[0]

    def describe(self) -> str:
        return (f"run_autograder exit {self.returncode} after {self.returned_at - self.started_at:.0f} s\n"
                f"output:\n{tail(self.output)}")


class Arena:
    """Everything shared by the session's grades: the zip, canaries, the listener, the honest baseline."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        layout = CourseLayout(REPO)
        self.spec: AssignmentSpec = load_spec(layout, SLUG)
        zip_dir = workspace / "zip"
        zip_dir.mkdir()
        self.zip = build_autograder_zip(layout, self.spec, dest=zip_dir / "autograder.zip")
        with zipfile.ZipFile(self.zip) as archive:
            self.run_autograder = archive.read("run_autograder")
        self.venv = Path(sys.prefix)
        token = uuid.uuid4().hex
        self.canaries = {"hidden": f"CANARY-HIDDEN-{token}", "reference": f"CANARY-REFERENCE-{token}"}
        self.canary_path = workspace / "canary"  # what pickle / __torch_function__ payloads would create
        self.hidden_files = sorted(p for f in self.spec.test_folders if not f.shipped_to_students
                                   for p in f.path.rglob("*.py"))
        self.reference_files = sorted(self.spec.reference_dir.rglob("*.py"))
        self.secret_lines = self._secret_lines()
        self.listener = Listener()
        self.runs: dict[str, GroupRun | BaseException] = {}

    def _secret_lines(self) -> set[str]:
        """Lines of the hidden tests a student never sees elsewhere (not in public tests, conftest, reference)."""
        known: set[str] = set()
        for path in [*self.spec.assignment_dir.rglob("*.py"), *self.reference_files]:
            if path not in self.hidden_files:
                known.update(line.strip() for line in path.read_text().splitlines())
        secret = set()
        for path in self.hidden_files:
            for line in path.read_text().splitlines():
                stripped = line.strip()
                if len(stripped) >= SECRET_LINE_CHARS and not stripped.startswith("#") and stripped not in known:
                    secret.add(stripped)
        return secret

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(REPO.resolve()).as_posix()

    # ---------------------------------------------------------------- one grade
    def submission_source(self, group: str, root: Path, evidence: Path) -> str:
        source = (self.spec.reference_dir / MODULE_FILE).read_text()
        if group == "honest":
            return source
        config = {"root": str(root), "evidence": str(evidence), "student": STUDENT, "port": self.listener.port,
                  "hidden_rel": self.relative(self.hidden_files[0]),
                  "reference_rel": self.relative(self.spec.reference_dir / MODULE_FILE),
                  "canary": str(self.canary_path)}
        common = (ATTACKS_DIR / "_common.py").read_text().replace("__ATTACK_CONFIG__", repr(config))
        snippets = [(ATTACKS_DIR / f"{attack.name}.py").read_text() for attack in GROUPS[group]]
        return "\n\n".join([source.rstrip("\n"), common, *snippets]) + "\n"

    def grade(self, group: str) -> GroupRun:
        cached = self.runs.get(group)
        if isinstance(cached, BaseException):
            pytest.fail(f"grading group {group!r} failed earlier: {cached}")
        if cached is not None:
            return cached
        try:
            run = self._grade(group)
        except BaseException as exc:
            self.runs[group] = exc
            raise
        self.runs[group] = run
        return run

    def _grade(self, group: str) -> GroupRun:
        root = Path(tempfile.mkdtemp(prefix=f"autograder-{group}-", dir=self.workspace))
        root.chmod(0o755)  # like /autograder: the grader makes source/ and results/ root-only itself
        unpack(self.zip, root / "source")
        for path in self.hidden_files:
            self._prepend(root / "source" / self.relative(path), self.canaries["hidden"])
        for path in self.reference_files:
            self._prepend(root / "source" / self.relative(path), self.canaries["reference"])
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")  # Gradescope runs this copy
        evidence = self.workspace / f"evidence-{group}"
        evidence.mkdir()
        evidence.chmod(0o777)  # the attacks, running as the grading account, write their reports here
        (root / "submission").mkdir()
        (root / "submission" / MODULE_FILE).write_text(self.submission_source(group, root, evidence))
        (root / "results").mkdir()
        env = clean_env(AUTOGRADER_ROOT=str(root), AUTOGRADER_VENV=str(self.venv))
        output = self.workspace / f"run_autograder-{group}.out"
        started = time.time()
        wrapper = subprocess.Popen([sys.executable, "-c", WRAPPER, str(root / "source" / "run_autograder"), str(output)],
                                   cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert wrapper.stdin is not None and wrapper.stdout is not None
        try:
            ready, _, _ = select.select([wrapper.stdout], [], [], self.spec.limits.gradescope_timeout_s)
            line = wrapper.stdout.readline() if ready else ""
            returned = time.time()
            results_path = root / "results" / "results.json"
            results_bytes = results_path.read_bytes() if results_path.is_file() else None
            live_at_return = left_behind(wrapper.pid)
            if line.startswith("exit "):
                time.sleep(WAIT_AFTER_RUN_S)
            results_later = results_path.read_bytes() if results_path.is_file() else None
            live_later = left_behind(wrapper.pid)
        finally:
            # Whatever got through must not disturb the next grade (nor anything outside this grade's process tree).
            try:
                wrapper.stdin.write("clean\n")
                wrapper.stdin.close()
            except BrokenPipeError:
                pass
            report = wrapper.stdout.read()
            wrapper.wait(timeout=60)
        text = output.read_text(errors="replace") if output.is_file() else ""
        if not line.startswith("exit "):
            raise AssertionError(f"run_autograder did not end within Gradescope's {self.spec.limits.gradescope_timeout_s:g} s "
                                 f"timeout (Gradescope would replace results.json with a score of 0), or could not start "
                                 f"(wrapper exit {wrapper.returncode})\n{tail(text)}")
        killed = json.loads(report.strip().splitlines()[-1])["killed"]
        scripts = {}
        for path in (root / "source" / "run_autograder", root / "run_autograder"):
            scripts[str(path)] = (self.run_autograder, path.read_bytes() if path.is_file() else None)
        run = GroupRun(group=group, root=root, evidence_dir=evidence, returncode=int(line.split()[1]), output=text,
                       started_at=started, returned_at=returned, results_bytes=results_bytes,
                       results_bytes_later=results_later, scripts=scripts, live_at_return=live_at_return,
                       live_later=live_later, killed_in_cleanup=killed)
        if results_bytes is not None:
            try:
                run.results = json.loads(results_bytes)
            except ValueError as exc:
                run.parse_error = str(exc)
        return run

    @staticmethod
    def _prepend(path: Path, canary: str) -> None:
        mode = path.stat().st_mode
        path.write_text(f"# {canary}\n" + path.read_text())
        path.chmod(mode)

    # ---------------------------------------------------------------- the checks every attack must pass
    def assert_grader_held(self, run: GroupRun, breaks: set[str]) -> None:
        honest = self.grade("honest")
        assert run.results_bytes is not None, f"no results/results.json was written\n{run.describe()}"
        assert run.results is not None, f"results.json does not parse ({run.parse_error})\n{run.describe()}"
        results = run.results
        validate_results(results)
        assert results["tests"], f"results.json lists no tests: {results.get('extra_data')}"
        listed = sorted((t["extra_data"]["nodeid"], t["max_score"]) for t in results["tests"])
        assert honest.results is not None
        assert listed == sorted((t["extra_data"]["nodeid"], t["max_score"]) for t in honest.results["tests"]), (
            "results.json does not list the same tests as the honest reference's run")
        honest_tests = {t["extra_data"]["nodeid"]: t for t in honest.results["tests"]}
        functions = {t["extra_data"]["nodeid"].split("::")[-1] for t in results["tests"]}
        assert breaks <= functions, f"the attacks expect to break {sorted(breaks - functions)}, which did not run"
        wrong, expected_score = [], 0.0
        for test in results["tests"]:
            function = test["extra_data"]["nodeid"].split("::")[-1]
            honest_test = honest_tests[test["extra_data"]["nodeid"]]
            if function in breaks:
                if test["status"] != "failed" or test["score"] > honest_test["score"]:
                    wrong.append(f"{function}: {test['status']} {test['score']:g} (the attack breaks it): "
                                 f"{test['output'][:300]}")
                expected_score += test["score"]  # e.g. partial credit a test gives before it fails
            elif "perf" in honest_test["extra_data"]:
                # Timed against the reference on a shared machine: the verdict is noise, not a fact about the attack.
                # It must still have been measured (not crashed, timed out, skipped) and counts as measured.
                if test["extra_data"]["outcome"] not in ("passed", "failed") or "perf" not in test["extra_data"]:
                    wrong.append(f"{function}: {test['extra_data']['outcome']} (expected a measurement): {test['output'][:300]}")
                expected_score += test["score"]
            else:
                if test["status"] != honest_test["status"] or test["score"] != honest_test["score"]:
                    wrong.append(f"{function}: {test['status']} {test['score']:g} (honest: {honest_test['status']} "
                                 f"{honest_test['score']:g}): {test['output'][:300]}")
                expected_score += honest_test["score"]
        assert not wrong, "tests ended other than the honest part predicts:\n" + "\n".join(wrong)
        assert results["score"] == pytest.approx(expected_score), f"score {results['score']}, expected {expected_score}"
        assert run.results_bytes_later == run.results_bytes, (
            f"results.json changed within {WAIT_AFTER_RUN_S:g} s after run_autograder returned")
        for path, (expected, found) in run.scripts.items():
            assert found == expected, f"{path} was changed (or removed) during grading"
        self.assert_no_secrets(run)

    def assert_no_secrets(self, run: GroupRun) -> None:
        assert run.results is not None
        texts = list(strings_in(run.results))
        for name, canary in self.canaries.items():
            assert not any(canary in text for text in texts), f"text of the {name} files surfaced in results.json"
            assert canary not in run.evidence_text(), f"an attack read the {name} files (see {run.evidence_dir})"
        leaked = sorted(line for line in self.secret_lines if any(line in text for text in texts))
        assert not leaked, f"hidden test source lines in results.json: {leaked[:5]}"
        made = sorted(p.name for p in self.workspace.glob(self.canary_path.name + "*"))
        assert not made, f"a payload ran in the grader (root) and created {made}"

    def assert_account_clean(self, run: GroupRun) -> None:
        assert run.results is not None
        assert run.results["extra_data"]["isolation"].get("user") == STUDENT, run.results["extra_data"]["isolation"]
        assert not run.live_at_return, f"processes of the run alive when run_autograder returned: {run.live_at_return}"
        assert not run.live_later, f"processes of the run alive {WAIT_AFTER_RUN_S:g} s later: {run.live_later}"
        assert not run.killed_in_cleanup, (f"{len(run.killed_in_cleanup)} process(es) of the run were still running when "
                                           f"the test cleaned up, e.g. {run.killed_in_cleanup[:3]}")
        late = [r for a in GROUPS.get(run.group, []) for r in run.records(a.name)
                if r.get("event") == "heartbeat" and r.get("time", 0) > run.returned_at]
        assert not late, (f"{len(late)} heartbeat(s) of student processes after run_autograder returned, e.g. "
                          f"{late[-1]}: they survived the grader's clean-up")


@pytest.fixture(scope="session")
def arena() -> Iterator[Arena]:
    if not HAVE_A1:
        pytest.skip(f"assignments/{SLUG}/assignment.toml does not exist yet; the attack suite grades the real a1")
    workspace = Path(tempfile.mkdtemp(prefix="autograder-attacks-"))
    workspace.chmod(0o755)  # the grading account must reach the evidence folders (pytest's tmp folders are 0700)
    arena = Arena(workspace)
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


def attempts_of(records: list[dict[str, Any]], key: str = "attempts") -> list[dict[str, Any]]:
    return [a for r in records for a in r.get(key, [])]


def assert_all_refused(attempts: list[dict[str, Any]], what: str) -> None:
    assert attempts, f"{what}: the attack recorded no attempt"
    succeeded = [f"{a['what']} -> {str(a.get('result'))[:200]}" for a in attempts if a["ok"]]
    assert not succeeded, f"{what}: the submission succeeded at: {succeeded}"


@check("sockets")
def _sockets(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    for record in records:  # one per import of the module
        assert record["interfaces"] == ["lo"], f"student code sees network interfaces {record['interfaces']}"
        assert record["isolated"] and record["outside"] == "tried"
        assert_all_refused([a for a in record["attempts"] if a["what"] != "listen"], "sockets")
    assert not arena.listener.connections, f"student code reached 127.0.0.1:{arena.listener.port}"
    assert run.results is not None
    assert str(run.results["extra_data"]["isolation"].get("network", "")).startswith("blocked")


@check("write_results_json")
def _write_results_json(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    for record in records:
        attempts = record["attempts"]
        assert_all_refused(attempts, "writing results.json")
        ours = [a for a in attempts if a["what"].startswith(f"open {run.root}/results/results.json")]
        assert ours and ours[0]["error"] == "PermissionError", ours
    assert run.results_bytes is not None and b"PWNED" not in run.results_bytes


@check("append_run_autograder")
def _append_run_autograder(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    for record in records:
        assert_all_refused(record["attempts"], "appending to run_autograder")
        assert any(a["error"] == "PermissionError" and str(run.root) in a["what"] for a in record["attempts"])


@check("read_secrets")
def _read_secrets(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    files = [r for r in records if r.get("stage") == "files"]
    memory = [r for r in records if r.get("stage") == "memory"]
    assert files and memory, "the attack did not run both stages (files at import, memory inside get_device)"
    for record in files:
        assert "--ag-reference" in record["runner_cmdline"], "expected the runner's command line to name the reference"
        for key in ("reads", "listings", "links"):
            assert_all_refused(record[key], f"read_secrets: {key}")
        assert any("/proc/" in a["what"] and "cwd" in a["what"] for a in record["reads"])
        assert any(a["what"].endswith("/environ") for a in record["reads"])
    for stage in memory:
        outside = [f["file"] for f in stage["stack"] if "/tests/" in f["file"] or "conftest" in f["file"]
                   or f["file"].endswith("test_hidden.py")]
        assert not outside, f"inspect.stack() in student code reached test frames: {outside}"
        assert all("/isolation/worker.py" in f["file"] or f["file"].endswith(MODULE_FILE) or f["file"].startswith("<")
                   for f in stage["stack"]), [f["file"] for f in stage["stack"]]
        foreign = [m for m in stage["modules"] if m.split(".")[0] in ("conftest", "test_public", "test_hidden",
                                                                      "_autograder_reference")]
        assert not foreign, f"test or reference modules are loaded in the student's process: {foreign}"


@check("proc_inspect_parent")
def _proc_inspect_parent(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    world_readable = ("/status", "/cmdline", "/mountinfo")  # readable for any process on Linux; hold no secrets here
    for record in records:
        for label in ("runner", "supervisor"):
            attempts = [a for a in record[label] if not a["what"].endswith(world_readable)]
            assert len(attempts) >= 15
            assert_all_refused(attempts, f"inspecting the {label} through /proc, ptrace, process_vm_readv, pidfd_getfd")


@check("daemon_rewrites_results")
def _daemon_rewrites_results(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    started = [r for r in records if r.get("event") == "started"]
    beats = [r for r in records if r.get("event") == "heartbeat"]
    assert started and beats, "the daemon did not start"
    assert any(b["sid"] != started[0]["worker"] and b["worker_alive"] is False for b in beats), (
        "expected the daemon to outlive the worker, in a session of its own")
    assert all(not b["wins"] for b in beats), f"the daemon wrote {sorted({w for b in beats for w in b['wins']})}"


@check("daemon_pid_hopping")
def _daemon_pid_hopping(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert any(r.get("event") == "started" for r in records), "the daemon did not start"
    assert any(r.get("event") == "hopping" for r in records), "the daemon never saw the runner end"
    assert all(not r.get("wins") for r in records), f"the daemon wrote {[r['wins'] for r in records if r.get('wins')]}"


@check("monkeypatch")
def _monkeypatch(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    for record in records:
        assert {"torch.testing.assert_close", "time.perf_counter", "builtins.isinstance"} <= set(record["patched"])
        assert record["effect_here"] == {"assert_close": True, "perf_counter": 0.0}, "the patches did not take in the worker"
    assert "FlopCounterMode measured" in run.test("test_layer_flops_default_sizes")["output"]


@check("signals")
def _signals(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    (record,) = records  # sent at the first import only
    targeted = [a for a in record["attempts"] if not a["what"].startswith("kill -1")]
    assert_all_refused(targeted, "signalling the runner, the supervisor and init")
    assert all(a["error"] == "PermissionError" for a in targeted)
    assert any(a["what"] == "kill -1 SIGKILL" for a in record["attempts"])


@check("os_exit")
def _os_exit(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert records, "the attack did not run"
    assert "exited with code 0" in run.test("test_get_device")["output"]


@check("sys_exit")
def _sys_exit(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert records, "the attack did not run"
    assert "SystemExit" in run.test("test_sgd_step_matches_reference")["output"]


@check("infinite_loop")
def _infinite_loop(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert records, "the attack did not run"
    test = run.test("test_layer_flops_rejects_unknown_mode")
    assert "time limit" in test["output"], test["output"]
    assert test["extra_data"]["duration_s"] < arena.spec.limits.test_timeout_s + 30


@check("memory_bomb")
def _memory_bomb(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    torch_attempt = [r["attempt"] for r in records if r.get("event") == "torch"]
    held = [r for r in records if r.get("event") == "held"]
    assert torch_attempt and not torch_attempt[0]["ok"], torch_attempt
    assert held, "the bomb did not report"
    limit = arena.spec.limits.memory_mb * 1024 * 1024
    assert held[0]["limit_hit"] and held[0]["bytes"] < limit, f"the worker held {held[0]['bytes']:,} bytes (limit {limit:,})"
    # The test fails (checked for every attack); that it says "Your code raised MemoryError" is blocked by the
    # proxy bug test_student_exception_of_each_builtin_type_crosses[MemoryError] documents.


@check("crafted_2gb_tensor")
def _crafted_2gb_tensor(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert records, "the attack did not run"
    assert "claims 2,147,483,648 bytes but carries 4" in run.test("test_predict")["output"]


@check("oversize_frame")
def _oversize_frame(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert records, "the attack did not run"
    output = run.test("test_relu_backward")["output"]
    assert "3,221,225,472 bytes is over the" in output, output


@check("crafted_zero_stride_tensor")
def _crafted_zero_stride_tensor(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert records, "the attack did not run"
    output = run.test("test_predict")["output"]
    assert "refuses to accept" in output, f"the runner accepted the claim and built it: {output[:300]}"


@check("reduce_object")
def _reduce_object(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert records, "the attack did not run"
    assert "expected grad_bias (in=6, out=3) to be a torch.Tensor" in run.test("test_linear_backward")["output"]


@check("tensor_subclass")
def _tensor_subclass(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert len(records) >= 3, "expected the subclass to be returned to each mlp_backward test"


@check("fork_bomb")
def _fork_bomb(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    # One record per import: a worker started after another was lost imports the module (and forks) again.
    assert records[0]["forked"] > 0, records[0]
    for record in records:
        assert record["forked"] < arena.spec.limits.processes, record["forked"]
        assert "Resource temporarily unavailable" in record["stopped_by"], record["stopped_by"]


@check("print_10mb")
def _print_10mb(run: GroupRun, records: list[dict[str, Any]], arena: Arena) -> None:
    assert records, "the attack did not run"
    assert run.results is not None and run.results_bytes is not None
    assert len(run.results_bytes) < 100_000, f"results.json is {len(run.results_bytes):,} bytes"
    assert all(len(t["output"]) <= 8_000 for t in run.results["tests"])
    assert "Printed during this test" in run.test("test_get_device")["output"]


assert set(CHECKS) == set(BY_NAME), f"attacks without a check or checks without an attack: {set(CHECKS) ^ set(BY_NAME)}"


# ============================================================================================ the tests
@pytest.mark.slow
def test_honest_reference_baseline(arena: Arena) -> None:
    """The unmodified reference, through the same harness: every point, nothing leaked, nothing left behind."""
    run = arena.grade("honest")
    arena.assert_grader_held(run, set())
    assert run.results is not None
    lost = [f"{t['name']}: {t['output'][:200]}" for t in run.results["tests"]  # perf verdicts are timing noise here
            if t["status"] != "passed" and t["extra_data"]["outcome"] != "skipped" and "perf" not in t["extra_data"]]
    assert not lost, "the honest reference fails tests, so the attacks' expectations are meaningless:\n" + "\n".join(lost)
    if IS_ROOT:
        arena.assert_account_clean(run)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BY_NAME))
def test_attack(arena: Arena, name: str) -> None:
    attack = BY_NAME[name]
    if attack.needs_account and not IS_ROOT:
        pytest.skip(f"{name}: {NOT_ROOT}")
    run = arena.grade(attack.group)
    breaks = {b for a in GROUPS[attack.group] for b in a.breaks}
    arena.assert_grader_held(run, breaks)
    records = run.records(name)
    assert records, f"{name} left no evidence: did it run? (see {run.evidence_dir})"
    assert not any("skipped" in r for r in records), f"{name} did not run as the grading account: {records}"
    CHECKS[name](run, records, arena)


@pytest.mark.slow
@pytest.mark.skipif(not IS_ROOT, reason=NOT_ROOT)
@pytest.mark.parametrize("name", list(BY_NAME))
def test_attack_leaves_nothing_behind(arena: Arena, name: str) -> None:
    """Student code ran as the grading account, and none of its processes outlived grading."""
    run = arena.grade(BY_NAME[name].group)
    arena.assert_account_clean(run)


# ============================================================================================ codec unit tests
def _message(tree: Any, payload: bytes = b"", offsets: list[Any] | None = None) -> tuple[bytes, bytearray]:
    """A hand-made frame: (frame header, body) as codec.receive would pass them to codec.unpack."""
    header = json.dumps({"v": tree, "b": [[0, len(payload)]] if offsets is None else offsets}).encode()
    pad = -(codec.FRAME.size + len(header)) % codec.ALIGN
    body = bytearray(header + b" " * pad + payload)
    return codec.FRAME.pack(len(body), len(header) + pad), body


def _no_handle(number: int) -> Any:
    raise AssertionError(f"from_handle({number!r}) called for a message that should have been refused")


def _tensor_node(**fields: Any) -> dict[str, Any]:
    return {"$t": 0, "dtype": "float32", "shape": [1], "device": "cpu", "requires_grad": False, "inference": False, **fields}


def _round_trip(value: Any, **receive: Any) -> Any:
    read_fd, write_fd = os.pipe()
    try:
        chunks = codec.pack(value)
        assert sum(c.nbytes for c in chunks) < 60_000, "keep round-trip values under the pipe's buffer"
        codec.send(write_fd, value)
        return codec.receive(read_fd, _no_handle, **receive)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_codec_round_trip_control() -> None:
    """The control for the refusals below: honest values cross intact, tensor subclasses as plain tensors."""
    import torch

    class Sneaky(torch.Tensor):
        pass

    value = {"x": torch.arange(6, dtype=torch.float64).reshape(2, 3), "n": [1, 2.5, None, "s", b"raw"],
             "t": (torch.tensor([1, 2], dtype=torch.int64).as_subclass(Sneaky),)}
    got = _round_trip(value)
    assert torch.equal(got["x"], value["x"]) and got["n"] == value["n"]
    assert type(got["t"][0]) is torch.Tensor and got["t"][0].tolist() == [1, 2]


@pytest.mark.parametrize("shape, payload", [([2 ** 29], b"\0" * 4), ([1 << 40, 1 << 40], b"\0" * 4), ([3], b"\0" * 16),
                                            ([2], b"\0" * 4)], ids=["2GiB-claimed", "overflowing-shape", "too-few-bytes",
                                                                     "too-many-bytes"])
def test_codec_refuses_a_tensor_that_claims_other_bytes_than_it_carries(shape: list[int], payload: bytes) -> None:
    frame, body = _message({"$d": [["ok", _tensor_node(shape=shape)]]}, payload)
    with pytest.raises(codec.ProtocolError, match="claims"):
        codec.unpack(frame, body, _no_handle)


def test_codec_refuses_a_strided_tensor_that_claims_more_than_it_carries() -> None:
    """Overlapping strides (stride 0: one element repeated) must not let 4 bytes claim 2**40 elements."""
    frame, body = _message({"$d": [["ok", _tensor_node(shape=[2 ** 40], stride=[0])]]}, b"\0" * 4)
    with pytest.raises(codec.ProtocolError, match="does not match"):
        codec.unpack(frame, body, _no_handle)


def test_codec_still_refuses_a_strided_tensor_with_a_short_buffer() -> None:
    frame, body = _message({"$d": [["ok", _tensor_node(shape=[3, 4], stride=[1, 3])]]}, b"\0" * 8)
    with pytest.raises(codec.ProtocolError, match="does not match"):
        codec.unpack(frame, body, _no_handle)


@pytest.mark.parametrize("node", [
    _tensor_node(dtype="object"), _tensor_node(dtype="qint8"), _tensor_node(dtype="float8_e4m3fn"),
    _tensor_node(dtype=None), _tensor_node(dtype=7), _tensor_node(shape=[-1]), _tensor_node(shape=[True]),
    _tensor_node(shape=[1.0]), _tensor_node(shape="1"), _tensor_node(**{"$t": 7}), _tensor_node(**{"$t": "0"}),
], ids=["object", "qint8", "float8", "none", "int", "negative-shape", "bool-shape", "float-shape", "str-shape",
        "buffer-out-of-range", "buffer-not-int"])
def test_codec_refuses_unknown_dtypes_and_malformed_tensors(node: dict[str, Any]) -> None:
    frame, body = _message({"$d": [["ok", node]]}, b"\0" * 4)
    with pytest.raises(codec.ProtocolError):
        codec.unpack(frame, body, _no_handle)




@pytest.mark.parametrize("node", [
    pytest.param(_tensor_node(dtype=["float32"]), id="unhashable-dtype"),
    pytest.param({"$nd": _tensor_node(requires_grad=True)}, id="ndarray-requiring-grad"),
    pytest.param({"$bigint": "12x"}, id="bigint-not-digits"),
    pytest.param({"$bigint": "1" * 4999}, id="bigint-over-int-max-str-digits"),
    pytest.param({"$complex": [1, "x"]}, id="complex-not-numbers"),
    pytest.param({"$d": [[[1], 1]]}, id="dict-key-a-list"),
    pytest.param({"$tuple": 5}, id="tuple-not-a-list"),
])
def test_codec_refuses_malformed_values_with_protocol_error(node: dict[str, Any]) -> None:
    frame, body = _message({"$d": [["ok", node]]}, b"\0" * 4)
    with pytest.raises(codec.ProtocolError):
        codec.unpack(frame, body, _no_handle)


@pytest.mark.parametrize("handle", ["1", 1.0, True, None, [1], {"$h": 1}], ids=repr)
def test_codec_refuses_malformed_handles(handle: Any) -> None:
    frame, body = _message({"$d": [["ok", {"$h": handle}]]})
    with pytest.raises(codec.ProtocolError, match="handle"):
        codec.unpack(frame, body, _no_handle)


@pytest.mark.parametrize("offsets", [[[0, 10 ** 9]], [[-8, 4]], [[0, -1]], [["0", 4]], [[0, 4.0]]],
                         ids=["past-the-end", "negative-offset", "negative-size", "str-offset", "float-size"])
def test_codec_refuses_buffers_outside_the_message(offsets: list[Any]) -> None:
    frame, body = _message({"$d": [["ok", {"$bytes": 0}]]}, b"1234", offsets=offsets)
    with pytest.raises(codec.ProtocolError):
        codec.unpack(frame, body, _no_handle)


def test_codec_refuses_an_oversize_message_from_its_header_alone() -> None:
    """A frame announcing 3 GiB is refused before a byte of the body is read (none is there: no wait, no alloc)."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, codec.FRAME.pack(3 * 2 ** 30, 16))
        started = time.monotonic()
        with pytest.raises(codec.ProtocolError, match="over the 1,048,576-byte limit"):
            codec.receive(read_fd, _no_handle, max_bytes=1 << 20, deadline=time.monotonic() + 30)
        assert time.monotonic() - started < 5
        os.write(write_fd, codec.FRAME.pack((1 << 20) + 1, 16))
        with pytest.raises(codec.ProtocolError, match="over the"):
            codec.receive(read_fd, _no_handle, max_bytes=1 << 20)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_codec_times_out_on_a_stalled_message() -> None:
    """A frame that announces a small body and then stalls costs the deadline, not forever."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, codec.FRAME.pack(1024, 16) + b"{")
        with pytest.raises(codec.ChannelTimeout):
            codec.receive(read_fd, _no_handle, deadline=time.monotonic() + 0.3)
    finally:
        os.close(read_fd)
        os.close(write_fd)


@pytest.mark.parametrize("depth", [codec.MAX_DEPTH + 2, 200_000], ids=["past-max-depth", "past-json-recursion"])
@pytest.mark.parametrize("kind", ["list", "tuple", "dict"])
def test_codec_refuses_deep_nesting(depth: int, kind: str) -> None:
    open_, close = {"list": ("[", "]"), "tuple": ('{"$tuple":[', "]}"), "dict": ('{"$d":[["k",', "]]}")}[kind]
    header = ('{"v":' + open_ * depth + "1" + close * depth + ',"b":[]}').encode()
    pad = -(codec.FRAME.size + len(header)) % codec.ALIGN
    body = bytearray(header + b" " * pad)
    with pytest.raises(codec.ProtocolError):
        codec.unpack(codec.FRAME.pack(len(body), len(header) + pad), body, _no_handle)


def test_codec_refuses_too_many_items() -> None:
    frame, body = _message([0] * (codec.MAX_ITEMS + 1), offsets=[])
    with pytest.raises(codec.ProtocolError, match="too many"):
        codec.unpack(frame, body, _no_handle)


def test_codec_refuses_garbage_headers() -> None:
    for header in (b"\xff\xfe not json", b'"a string"', b'{"v": 1}', b'{"v": {"$unknown": 1}, "b": []}',
                   b'{"v": {}, "b": []}'):
        body = bytearray(header)
        with pytest.raises(codec.ProtocolError):
            codec.unpack(codec.FRAME.pack(len(body), len(header)), body, _no_handle)
    body = bytearray(b"{}")
    with pytest.raises(codec.ProtocolError, match="header too large"):
        codec.unpack(codec.FRAME.pack(len(body), 10 ** 6), body, _no_handle)


def test_codec_pack_refuses_runner_side_objects() -> None:
    """Without a handle table (the runner's side), nn.Modules, functions and other objects never leave."""
    import torch

    for value in (torch.nn.Linear(2, 2), [torch.nn.ReLU()], {"model": torch.nn.Sequential()}, len, (x for x in ()),
                  object(), torch.Generator(), torch.nn.functional.relu):
        with pytest.raises(codec.ProtocolError, match="cannot be sent"):
            codec.pack(value)
    with pytest.raises(codec.ProtocolError, match="nested too deeply"):
        deep: Any = 1
        for _ in range(codec.MAX_DEPTH + 2):
            deep = [deep]
        codec.pack(deep)




@pytest.mark.parametrize("bases", [
    pytest.param(["MemoryError", "Exception", "BaseException", "object"], id="MemoryError"),
    pytest.param(["UnicodeDecodeError", "UnicodeError", "ValueError", "Exception", "BaseException", "object"],
                 id="UnicodeDecodeError"),
    pytest.param(["ValueError", "Exception", "BaseException", "object"], id="ValueError"),
    pytest.param(["KeyError", "LookupError", "Exception", "BaseException", "object"], id="KeyError"),
    pytest.param(["SystemExit", "BaseException", "object"], id="SystemExit"),
])
def test_student_exception_of_each_builtin_type_crosses(bases: list[str]) -> None:
    """A worker-side exception comes back catchable by its built-in type, with the student's message."""
    import builtins

    from autograder.isolation.proxy import StudentException, student_exception

    exc = student_exception({"type": bases[0], "builtin_bases": bases, "message": "from the student", "frames": [],
                             "kind": "student"})
    assert isinstance(exc, StudentException) and "from the student" in str(exc)
    builtin = getattr(builtins, bases[0])
    if bases[0] in ("MemoryError", "UnicodeDecodeError"):  # Python refuses mixing these into another class
        assert bases[0] in exc.display  # str(exc) is the student's message alone, as in their process
    else:
        assert isinstance(exc, builtin) or not issubclass(builtin, Exception)
