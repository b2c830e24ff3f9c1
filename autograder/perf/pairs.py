"""Two workers of the same kind outside a grading run: for calibration and benchmarks.

Grading builds its workers inside the runner (see autograder/plugin.py); tools that measure one declaration
directly use this instead: the same jail, the submission side under the student account and the reference
side under the reference account, the assignment's input generators on the workers' path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Iterator

from autograder.isolation import sandbox
from autograder.isolation.proxy import WorkerPool, WorkerSettings
from autograder.perf.sides import WorkerSide


def jail_for(user: str) -> dict:
    """Jail settings running as ``user`` (when root); the caller holds that slot's AccountLock."""
    return sandbox.jail_settings(sandbox.grading_account(user))


@contextlib.contextmanager
def worker_pair(submission: Path, reference: Path, lib_modules: list[Path],
                slot: int | None = None) -> Iterator[tuple[WorkerSide, WorkerSide]]:
    """Yield (submission side, reference side); ``lib_modules`` (input generators) are put on their path.

    Holds the slot's AccountLock throughout, so a grading run on the same slot cannot kill these workers in its
    final clean-up (nor these workers outlive into its run)."""
    student, reference_user = sandbox.slot_users(slot)
    with sandbox.AccountLock(student) if os.geteuid() == 0 else contextlib.nullcontext():
        with _pair(submission, reference, lib_modules, student, reference_user) as sides:
            yield sides


@contextlib.contextmanager
def _pair(submission: Path, reference: Path, lib_modules: list[Path], student: str,
          reference_user: str) -> Iterator[tuple[WorkerSide, WorkerSide]]:
    root = sandbox.prepare_worker_root()
    for module in lib_modules:
        shutil.copy2(module, root / "lib" / module.name)
        (root / "lib" / module.name).chmod(0o644)
    pools = [WorkerPool(WorkerSettings(sys.executable, root, submission, jail_for(student))),
             WorkerPool(WorkerSettings(sys.executable, root, reference, jail_for(reference_user)))]
    try:
        yield WorkerSide(pools[0], "submission"), WorkerSide(pools[1], "reference")
    finally:
        for pool in pools:
            pool.close()
        sandbox.remove_tree(root)
