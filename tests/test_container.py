"""The a1 autograder zip inside a simulated Gradescope container (issue 8 §3, issue 9 §3 and §5).

Each grade unpacks the built zip into a root laid out like ``/autograder`` (as tests/test_attacks.py does) and runs
``run_autograder`` with :mod:`autograder.envelope`: a cgroup-v1 CPU quota and memory limit, root with only Docker's
default capabilities (no CAP_SYS_ADMIN: the kernel refuses the worker a network namespace), and a seccomp filter
refusing new namespaces as Docker's profile does. So the network is held by the worker's own seccomp filter
alone, and SysV IPC and /tmp are shared with the next grade unless the clean-up removes them.

Three grades, in this order:
1. the attack submission: the reference plus ``network_escape`` (TCP/UDP to a listener on 127.0.0.1, netlink,
   packet, a pathname and an abstract unix socket the test listens on, unshare/clone into new namespaces; at
   import and inside the graded ``get_device``) and ``leave_behind`` (a SysV segment, a poisoned inductor cache,
   logs and filler in /tmp, /var/tmp, /dev/shm): every honest test passes, no listener hears anything, and
   nothing the account owns is left after the run;
2. the reference plus ``read_leftovers`` (the next grading, same account): full marks, and it finds nothing;
3. the starter: 0, with the same tests.

The envelope here is 2 CPUs / 3 GB, Gradescope's third setting: this test checks confinement and correctness,
not the time verdicts (which need the CPU the measurement is calibrated for); each grade takes about a
minute on a 2-core machine. Skipped unless root on a machine with cgroup v1 (CI runs it as root).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from gradescope_root import grade_in_envelope

from autograder.envelope import Envelope, unavailable
from autograder.isolation import leftovers, sandbox
from autograder.layout import CourseLayout
from autograder.packaging import build_autograder_zip
from autograder.results_schema import validate_results
from autograder.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
SLUG = "a1_execution_modes"
MODULE_FILE = "execution_modes.py"
ATTACKS_DIR = REPO / "tests" / "data" / "attacks"
ENVELOPE = Envelope(cpus=2.0, memory_mb=3072, docker_caps=True)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(unavailable()), reason=f"no simulated container here: {unavailable()}"),
    pytest.mark.skipif(not (REPO / "assignments" / SLUG / "assignment.toml").is_file(), reason="a1 is not there"),
]


class Listeners:
    """A TCP and UDP port on 127.0.0.1 and a pathname and an abstract unix socket, recording whatever arrives."""

    def __init__(self, folder: Path) -> None:
        self.heard: list[str] = []
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.unix_path = str(folder / "listener.sock")
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(self.unix_path)
        os.chmod(self.unix_path, 0o777)  # anyone may connect: only the sandbox stands in the way
        self.abstract = f"autograder-test-{uuid.uuid4().hex}"
        self.unix_abstract = socket.socket(socket.AF_UNIX)
        self.unix_abstract.bind("\0" + self.abstract)
        for server in (self.tcp, self.unix, self.unix_abstract):
            server.listen()
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        threading.Thread(target=self._receive, daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            self.heard.append(f"connection on {server.getsockname()!r}")
            connection.close()

    def _receive(self) -> None:
        while True:
            try:
                data, sender = self.udp.recvfrom(100)
            except OSError:
                return
            self.heard.append(f"udp {data!r} from {sender}")

    def close(self) -> None:
        for server in (self.tcp, self.udp, self.unix, self.unix_abstract):
            server.close()


class Container:
    """The session's zip, listeners and grades."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        layout = CourseLayout(REPO)
        self.spec = load_spec(layout, SLUG)
        (workspace / "zip").mkdir()
        self.zip = build_autograder_zip(layout, self.spec, dest=workspace / "zip" / "autograder.zip")
        self.listeners = Listeners(workspace)
        self.evidence = workspace / "evidence"
        self.evidence.mkdir()
        self.evidence.chmod(0o777)  # the attacks write their reports here as the grading account
        self.config = {"root": str(workspace), "evidence": str(self.evidence), "student": sandbox.slot_users()[0],
                       "port": self.listeners.port, "unix_path": self.listeners.unix_path,
                       "unix_abstract": self.listeners.abstract, "ipc_key": 0x5A000000 + os.getpid() % 0xFFFF,
                       "leftover_marker": f"ag-leftover-{uuid.uuid4().hex}"}
        self.grades: dict[str, dict[str, Any]] = {}

    def source(self, base: Path, attacks: tuple[str, ...]) -> str:
        parts = [(base / MODULE_FILE).read_text().rstrip("\n")]
        if attacks:
            parts.append((ATTACKS_DIR / "_common.py").read_text().replace("__ATTACK_CONFIG__", repr(self.config)))
            parts += [(ATTACKS_DIR / f"{name}.py").read_text() for name in attacks]
        return "\n\n".join(parts) + "\n"

    def grade(self, name: str, base: Path, attacks: tuple[str, ...] = ()) -> dict[str, Any]:
        # The envelope's timeout is generous: on a shared machine a grade may first wait for the grading account's
        # lock; Gradescope's own limit applies to the grade itself (execution_time, checked below).
        root, run = grade_in_envelope(self.zip, {MODULE_FILE: self.source(base, attacks)}, self.workspace, ENVELOPE,
                                      timeout_s=3 * self.spec.limits.gradescope_timeout_s, name=name)
        results_path = root / "results" / "results.json"
        output = (root / "run_autograder.out").read_text(errors="replace")[-3000:]
        assert results_path.is_file(), f"no results.json ({run}):\n{output}"
        results = json.loads(results_path.read_text())
        validate_results(results)
        assert results.get("execution_time", 0) < self.spec.limits.gradescope_timeout_s, (
            f"the grade took {results.get('execution_time')} s, beyond Gradescope's timeout")
        print(f"{name}: score {results['score']} {json.dumps(run.to_json())}")
        results["_envelope"] = run.to_json()
        results["_left"] = leftovers.leftovers_of(_student_uid())
        self.grades[name] = results
        return results

    def records(self, attack: str) -> list[dict[str, Any]]:
        path = self.evidence / f"{attack}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _student_uid() -> int:
    account = sandbox.grading_account(sandbox.slot_users()[0], create=False)
    return account.uid if account is not None else -1


@pytest.fixture(scope="module")
def container() -> Iterator[Container]:
    workspace = Path(tempfile.mkdtemp(prefix="autograder-container-"))
    workspace.chmod(0o755)
    box = Container(workspace)
    try:
        yield box
    finally:
        box.listeners.close()
        shutil.rmtree(workspace, ignore_errors=True)


def _failed(results: dict[str, Any]) -> list[str]:
    """Tests that did not pass. A time or memory check counts when it was measured: its verdict, taken on a
    shared machine, is the perf suite's business (tests/test_perf_*.py), not a fact about confinement."""
    failed = []
    for test in results["tests"]:
        if "perf" in test["extra_data"]:
            if test["extra_data"].get("outcome") not in ("passed", "failed"):
                failed.append(f"{test['name']}: not measured ({test['extra_data'].get('outcome')}): {test['output'][:300]}")
        elif test["status"] != "passed" and test["max_score"] > 0:
            failed.append(f"{test['name']}: {test['output'][:300]}")
    return failed


def test_attack_reaches_nothing_and_leaves_nothing(container: Container) -> None:
    results = container.grade("attack", container.spec.reference_dir, ("network_escape", "leave_behind"))
    isolation = results["extra_data"]["isolation"]
    assert str(isolation.get("network", "")).startswith("blocked (seccomp"), isolation
    assert "refused a new network namespace" in isolation["network"], (
        f"the envelope should refuse the worker a network namespace, as Docker does: {isolation['network']}")
    records = container.records("network_escape")
    assert {r["stage"] for r in records} >= {"import", "get_device"}, "the network attack did not run at both stages"
    succeeded = [f"{r['stage']}: {a['what']} -> {a.get('result')}" for r in records for a in r["attempts"] if a["ok"]]
    assert not succeeded, f"the submission got through: {succeeded}"
    assert not container.listeners.heard, f"the listeners heard the submission: {container.listeners.heard}"
    assert not _failed(results), f"honest tests failed beside the attack: {_failed(results)}"
    left = container.records("leave_behind")
    assert left and all(a["ok"] for a in left[0]["attempts"] if a["what"] != "env cache dir"), left
    cache = [a for a in left[0]["attempts"] if a["what"] == "env cache dir"][0]
    assert cache["ok"] and "/work-" in cache["result"], f"torch.compile's cache is not in the worker's folder: {cache}"
    assert not results["_left"], f"the grading account still owns, after the run: {results['_left']}"
    removed = isolation.get("leftovers_removed", {}).get(sandbox.slot_users()[0], {})
    assert removed.get("ipc", 0) >= 3 and removed.get("files", 0) >= 5, removed


def test_next_grading_finds_nothing_and_gets_every_point(container: Container) -> None:
    if "attack" not in container.grades:
        container.grade("attack", container.spec.reference_dir, ("network_escape", "leave_behind"))
    results = container.grade("reference", container.spec.reference_dir, ("read_leftovers",))
    records = container.records("read_leftovers")
    assert records, "the reader did not run"
    found = [f"{a['what']} -> {a.get('result')}" for r in records for a in r["attempts"] if a["ok"]]
    assert not found, f"the next grading found what the previous one left: {found}"
    assert not _failed(results), f"the reference lost points in the container: {_failed(results)}"
    correctness = [t for t in results["tests"] if "perf" not in t["extra_data"]]
    assert sum(t["score"] for t in correctness) == pytest.approx(sum(t["max_score"] for t in correctness))


def test_starter_earns_nothing_in_the_container(container: Container, tmp_path: Path) -> None:
    starter = REPO / "starter" / SLUG
    results = container.grade("starter", starter)
    assert results["tests"] and results["score"] == 0
    if "reference" in container.grades:
        assert sorted(t["name"] for t in results["tests"]) == sorted(t["name"] for t in container.grades["reference"]["tests"])
