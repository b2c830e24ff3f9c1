"""Two workers of the same kind outside a grading run: for calibration and benchmarks.

Grading builds its workers inside the runner (see autograder/plugin.py); tools that measure one declaration
directly use this instead: the same jail, the submission side under the student account and the reference
side under the reference account, the assignment's input generators on the workers' path.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Iterator

from autograder.isolation import sandbox
from autograder.isolation.proxy import WorkerPool, WorkerSettings
from autograder.perf.sides import WorkerSide


def jail_for(user: str) -> dict:
    account = sandbox.grading_account(user)
    jail: dict = {"rlimits": {}, "block_network": True}
    if account is not None:
        jail.update(uid=account.uid, gid=account.gid, user=account.name)
    return jail


@contextlib.contextmanager
def worker_pair(submission: Path, reference: Path, lib_modules: list[Path]) -> Iterator[tuple[WorkerSide, WorkerSide]]:
    """Yield (submission side, reference side); ``lib_modules`` (input generators) are put on their path."""
    root = sandbox.prepare_worker_root()
    for module in lib_modules:
        shutil.copy2(module, root / "lib" / module.name)
        (root / "lib" / module.name).chmod(0o644)
    pools = [WorkerPool(WorkerSettings(sys.executable, root, submission, jail_for(sandbox.STUDENT_USER))),
             WorkerPool(WorkerSettings(sys.executable, root, reference, jail_for(sandbox.REFERENCE_USER)))]
    try:
        yield WorkerSide(pools[0], "submission"), WorkerSide(pools[1], "reference")
    finally:
        for pool in pools:
            pool.close()
        sandbox.remove_tree(root)
