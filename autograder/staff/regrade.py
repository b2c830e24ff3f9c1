"""Grade a whole class: parallel, resumable, one grading slot per job, a crash in one never stops the rest.

Each submission is graded by ``python -m autograder.staff.job`` in a process of its own (see there). The
scheduler here hands out slots and CPUs, enforces a per-submission time limit, and writes the class outputs at
the end (:mod:`autograder.staff.outputs`).

Parallel runs and performance tests: with ``-j N`` the N jobs run in grading slots 1..N (slot 0 is left to
interactive ``grade``/``verify`` runs, so a regrade never waits behind them), each with its own pair of
accounts. When the assignment has ``[perf.*]`` thresholds, each job is also confined to its own CPUs
(``sched_setaffinity``, inherited by the runner and its workers): a perf check pins both of its workers to CPUs
of its job (autograder/perf/cpus.py), so two jobs never share the CPUs of a perf check. ``-j`` larger than the
number of CPUs is refused for such assignments; without perf tests any ``-j`` is allowed and nothing is pinned.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from autograder.errors import AutograderError
from autograder.isolation import sandbox
from autograder.spec import AssignmentSpec
from autograder.staff.job import failure_results, write_json
from autograder.staff.sources import Submission, load_submissions, shard

FIRST_SLOT = 1
JOB_GRACE_S = 180.0  # beyond the assignment's deadline: worker start, clean-up, writing results
POLL_S = 0.1


@dataclass
class RegradeOptions:
    jobs: int = 1
    shard: tuple[int, int] | None = None  # (index, count), 1-based
    force: bool = False
    device: str = "cpu"
    seed: int = 0  # base of every submission's seed: same seed, same inputs on a rerun or in another shard
    first_slot: int = FIRST_SLOT


@dataclass
class RegradeRun:
    """What happened, for the CLI's summary line."""

    out: Path
    total: int
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already done (resume)
    failed: list[str] = field(default_factory=list)  # grader errors, time-outs, missing files
    elapsed_s: float = 0.0


def submission_seed(base: int, submission_id: str) -> int:
    return zlib.crc32(f"{base}:{submission_id}".encode()) & 0x7FFFFFFF


def cpu_groups(jobs: int, needs_own_cpus: bool) -> list[set[int] | None]:
    """CPUs for each job: disjoint sets when perf tests need them, else no pinning."""
    if not needs_own_cpus:
        return [None] * jobs
    cpus = sorted(os.sched_getaffinity(0))
    if jobs > len(cpus):
        raise AutograderError(f"-j {jobs}: this assignment has performance tests, and each parallel job needs CPUs of "
                              f"its own; this machine gives {len(cpus)}. Use -j {len(cpus)} or less.")
    per = len(cpus) // jobs
    return [set(cpus[i * per:(i + 1) * per]) for i in range(jobs)]


def is_done(out: Path, submission: Submission, digest: str) -> bool:
    """A submission graded in an earlier run of this regrade, from the same files."""
    folder = out / "submissions" / submission.id
    if not (folder / "results.json").is_file():
        return False
    try:
        job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return job.get("digest") == digest


def write_manifest(out: Path, spec: AssignmentSpec, source: Path, kind: str, submissions: list[Submission],
                   digests: dict[str, str], options: RegradeOptions) -> None:
    manifest = {
        "slug": spec.slug, "source": str(source), "source_kind": kind, "device": options.device,
        "shard": list(options.shard) if options.shard else None, "seed": options.seed,
        "submissions": [{**s.to_json(), "digest": digests[s.id]} for s in submissions],
    }
    write_json(out / "manifest.json", manifest)


def check_device(device: str) -> None:
    if device == "cpu":
        return
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True)
    if probe.stdout.strip() != "True":
        raise AutograderError(f"--device {device}: torch sees no CUDA GPU on this machine; run the GPU regrade on a "
                              "GPU node (docs/staff.md, 'Grading on a GPU')")


class _Job:
    def __init__(self, submission: Submission, slot: int, cpus: set[int] | None, process: subprocess.Popen[bytes],
                 deadline: float, folder: Path, log: Path) -> None:
        self.submission, self.slot, self.cpus, self.process = submission, slot, cpus, process
        self.deadline, self.folder, self.log = deadline, folder, log


def _start(spec: AssignmentSpec, submission: Submission, digest: str, slot: int, cpus: set[int] | None,
           out: Path, options: RegradeOptions, scratch: Path) -> _Job:
    folder = out / "submissions" / submission.id
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("results.json", "job.json"):
        (folder / stale).unlink(missing_ok=True)
    settings = {"id": submission.id, "submission": str(submission.folder), "out": str(folder), "digest": digest,
                "slot": slot, "seed": submission_seed(options.seed, submission.id), "device": options.device,
                "course_root": str(spec.assignment_dir.parent.parent), "slug": spec.slug}
    settings_path = scratch / f"{submission.id}.json"
    settings_path.write_text(json.dumps(settings), encoding="utf-8")
    log = scratch / f"{submission.id}.log"

    def confine() -> None:  # in the child, before exec: the runner and every worker inherit it
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "autograder.staff.job", str(settings_path)],
                                   stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=confine)
    return _Job(submission, slot, cpus, process, time.monotonic() + spec.limits.deadline_s + JOB_GRACE_S, folder, log)


def _finish(job: _Job, timed_out: bool) -> bool:
    """Make sure the submission has a results.json that says what happened; True if it was graded."""
    if timed_out:
        try:
            os.killpg(job.process.pid, 9)
        except ProcessLookupError:
            pass
        job.process.wait()
        if os.geteuid() == 0:  # the job died without its clean-up: end what it left under the slot's accounts
            with sandbox.AccountLock.for_slot(job.slot):
                accounts = sandbox.slot_accounts(job.slot, create=False)
                for account in accounts or ():
                    sandbox.kill_user_processes(account.uid)
    results, job_file = job.folder / "results.json", job.folder / "job.json"
    if results.is_file() and job_file.is_file() and not timed_out:
        try:
            return json.loads(job_file.read_text(encoding="utf-8")).get("status") == "graded"
        except (OSError, ValueError):
            return False
    tail = job.log.read_text(encoding="utf-8", errors="replace")[-3000:] if job.log.is_file() else ""
    why = ("The grading process ran past the assignment's deadline and was stopped." if timed_out else
           f"The grading process ended (exit code {job.process.returncode}) without writing results.")
    from autograder.results import write_results

    write_results(failure_results(why, tail), results)
    write_json(job_file, {"id": job.submission.id, "status": "timeout" if timed_out else "grader error",
                          "error": why, "slot": job.slot, "digest": None})
    return False


@contextlib.contextmanager
def _stop_on_exit(running: list[_Job]) -> Iterator[None]:
    """On Ctrl-C (or any error here), stop the jobs still running: their submissions are graded on resume."""
    try:
        yield
    except BaseException:
        for job in running:
            try:
                os.killpg(job.process.pid, 9)
            except ProcessLookupError:
                pass
            job.process.wait()
            if os.geteuid() == 0:
                with sandbox.AccountLock.for_slot(job.slot):
                    for account in sandbox.slot_accounts(job.slot, create=False) or ():
                        sandbox.kill_user_processes(account.uid)
        raise


def regrade(spec: AssignmentSpec, source: Path, out: Path, options: RegradeOptions,
            progress: Callable[[str, int, int], None] | None = None) -> RegradeRun:
    """Grade every submission of ``source`` (this shard of it) into ``out``; see the module docstring."""
    start = time.monotonic()
    if options.jobs < 1:
        raise AutograderError(f"-j {options.jobs}: give at least one job")
    check_device(options.device)
    groups = cpu_groups(options.jobs, bool(spec.perf))  # refuses -j N beyond the CPUs before anything is written
    out.mkdir(parents=True, exist_ok=True)
    submissions, kind = load_submissions(source, out / "source")
    if options.shard:
        submissions = shard(submissions, *options.shard)
    digests = {s.id: (s.digest() if s.folder.is_dir() else "missing") for s in submissions}
    write_manifest(out, spec, source, kind, submissions, digests, options)
    run = RegradeRun(out=out, total=len(submissions))
    todo = []
    for s in submissions:
        if not options.force and is_done(out, s, digests[s.id]):
            run.skipped.append(s.id)
        else:
            todo.append(s)
    slots = [options.first_slot + i for i in range(options.jobs)]
    for slot in slots:  # create the accounts one at a time, before any job starts (useradd locks /etc/passwd)
        sandbox.slot_accounts(slot)
    free = list(zip(slots, groups))
    running: list[_Job] = []
    done = len(run.skipped)
    if progress:
        progress("", done, len(submissions))
    with tempfile.TemporaryDirectory(prefix="autograder-regrade-") as scratch, _stop_on_exit(running):
        while todo or running:
            while todo and free:
                slot, cpus = free.pop(0)
                submission = todo.pop(0)
                running.append(_start(spec, submission, digests[submission.id], slot, cpus, out, options, Path(scratch)))
            time.sleep(POLL_S)
            for job in list(running):
                timed_out = job.process.poll() is None and time.monotonic() > job.deadline
                if job.process.poll() is None and not timed_out:
                    continue
                running.remove(job)
                free.append((job.slot, job.cpus))
                (run.graded if _finish(job, timed_out) else run.failed).append(job.submission.id)
                done += 1
                if progress:
                    progress(job.submission.id, done, len(submissions))
    run.elapsed_s = time.monotonic() - start
    return run
