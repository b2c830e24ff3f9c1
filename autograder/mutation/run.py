"""Grade every mutant of an assignment's reference with its own correctness tests, in parallel.

1. The reference runs once with line tracing: which tests pass on it (the baseline), how long each takes, and
   which lines of the module each executes.
2. Each mutant runs only the tests that execute the line it changed, fastest first, stopping at the first
   failure (``-x``): a mutant no test reaches survives without running anything.
3. ``jobs`` worker processes (:mod:`autograder.mutation.worker`) run mutants in-process, importing torch and
   the tests once each; a mutant that hangs (a loop bound turned into something endless) is killed at its
   time limit, counted as killed by a time-out, and the worker is replaced.

Performance tests (those using the ``perf`` fixture) are left out: they judge speed, not correctness.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from autograder.discovery import static_tests
from autograder.mutation.mutants import Mutant, mutants_of
from autograder.spec import AssignmentSpec

KILLED, SURVIVED, TIMEOUT, UNCOVERED = "killed", "survived", "timeout", "not reached by any test"


@dataclass
class MutantResult:
    mutant: Mutant
    status: str
    killed_by: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Report:
    module: str
    original: str        # the unmutated source, for the survivors' diffs
    baseline_failures: list[str]
    results: list[MutantResult]
    seconds: float

    @property
    def kill_rate(self) -> float:
        caught = sum(r.status in (KILLED, TIMEOUT) for r in self.results)
        return caught / len(self.results) if self.results else 1.0

    def kills_by_test(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.results:
            for test in result.killed_by:
                counts[test] = counts.get(test, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[1]))


class _Worker:
    """A :mod:`autograder.mutation.worker` process with its own folder for the mutant under test."""

    def __init__(self, folder: Path, command: list[str]) -> None:
        self.folder = folder
        # One thread each: `jobs` workers share the CPUs, and OpenMP threads spinning against each other made one
        # digits training take 95 s instead of 1.5 s here.
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, env=env)
        self.job: tuple[Mutant, float, float] | None = None  # (mutant, started, time limit)

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def ready(self) -> bool:
        assert self.process.stdout is not None
        return bool(select.select([self.process.stdout], [], [], 0)[0])

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a mutation worker ended unexpectedly (run the assignment's tests on the reference "
                               "by hand to see why)")
        return json.loads(line)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def _correctness_tests(spec: AssignmentSpec) -> list[str]:
    """Node ids of every test that does not use the ``perf`` fixture (read statically)."""
    nodeids = []
    for folder in spec.test_folders:
        for file in sorted(folder.path.rglob("test_*.py")):
            relative = str(file.relative_to(spec.assignment_dir))
            nodeids += [info.nodeid for info in static_tests(file, relative) if "perf" not in info.fixtures]
    return nodeids


def run_mutants(spec: AssignmentSpec, module: str, jobs: int = 2, seed: int = 0, limit: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> Report:
    """Mutate ``reference/<slug>/<module>.py`` and grade every mutant (see the module docstring)."""
    assert spec.reference_dir is not None
    started = time.monotonic()
    source_path = spec.reference_dir / f"{module}.py"
    original = source_path.read_text(encoding="utf-8")
    mutants = mutants_of(source_path)[:limit]
    tests = _correctness_tests(spec)
    with tempfile.TemporaryDirectory(prefix="autograder-mutants-") as scratch:
        root = Path(scratch)
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")

        def start_worker(index: int) -> _Worker:
            folder = root / f"w{index}"
            folder.mkdir(exist_ok=True)
            (folder / f"{module}.py").write_text(original, encoding="utf-8")
            return _Worker(folder, [sys.executable, "-m", "autograder.mutation.worker", str(spec.assignment_dir),
                                    str(spec.reference_dir), str(folder), module, str(root / "pytest.ini"), str(seed),
                                    *tests])

        workers = [start_worker(index) for index in range(max(1, jobs))]
        # 1. the reference, traced: which tests pass, how long each takes, which lines each executes
        workers[0].send({"tests": tests, "trace": True})
        baseline = workers[0].receive()
        passing = [t for t in tests if t not in set(baseline["failed"])]
        lines = {t: set(v) for t, v in baseline["lines"].items()}  # node ids are relative to the assignment folder
        durations: dict[str, float] = baseline["durations"]
        # 2. the mutants
        queue = list(mutants)
        results: list[MutantResult] = []

        def finish(worker: _Worker, status: str, killed_by: list[str]) -> None:
            assert worker.job is not None
            mutant, since, _ = worker.job
            results.append(MutantResult(mutant, status, killed_by, round(time.monotonic() - since, 2)))
            worker.job = None
            if progress:
                progress(len(results), len(mutants))

        while queue or any(w.job for w in workers):
            for index, worker in enumerate(workers):
                if worker.job is None and queue:
                    mutant = queue.pop(0)
                    reach = sorted((t for t in passing if mutant.line in lines.get(t, ())), key=lambda t: durations.get(t, 0.0))
                    if not reach:
                        results.append(MutantResult(mutant, UNCOVERED))
                        if progress:
                            progress(len(results), len(mutants))
                        continue
                    (worker.folder / f"{module}.py").write_text(mutant.source, encoding="utf-8")
                    worker.job = (mutant, time.monotonic(), 3 * sum(durations.get(t, 1.0) for t in reach) + 10)
                    worker.send({"tests": reach, "exitfirst": True})
                elif worker.job is not None:
                    if worker.ready():
                        reply = worker.receive()
                        finish(worker, KILLED if reply["failed"] else SURVIVED, reply["failed"])
                    elif time.monotonic() - worker.job[1] > worker.job[2]:
                        finish(worker, TIMEOUT, ["(time limit: the mutant hung)"])
                        worker.kill()
                        workers[index] = start_worker(index)
            time.sleep(0.005)
        for worker in workers:
            worker.kill()
    results.sort(key=lambda r: r.mutant.number)
    return Report(module=f"reference/{spec.slug}/{module}.py", original=original, baseline_failures=baseline["failed"],
                  results=results, seconds=round(time.monotonic() - started, 1))
