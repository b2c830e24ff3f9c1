"""A worker is ready early and warm: what the isolated grade's speed depends on (bench/isolation.py, item 3)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from autograder.isolation import sandbox
from autograder.isolation.proxy import RemoteSubmission, WorkerPool, WorkerSettings
from autograder.perf.pairs import jail_for

PROBE = '''
import sys

def loaded(name):
    return name in sys.modules
'''


def test_the_runner_can_start_a_worker_before_importing_torch() -> None:
    """The plugin starts the first worker before conftest.py imports torch, so both imports overlap; that only
    works while the proxy (and the codec under it) import torch lazily."""
    probe = "import sys, autograder.isolation.proxy, autograder.isolation.codec; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", "importing the proxy imported torch: the worker would start a second later"


def test_a_ready_worker_imports_torch_dynamo_without_being_asked(tmp_path: Path) -> None:
    """The first optimizer.step() needs torch._dynamo (~1 s); the worker imports it on a side thread after ready."""
    (tmp_path / "probe.py").write_text(PROBE)
    tmp_path.chmod(0o755)
    (tmp_path / "probe.py").chmod(0o644)
    root = sandbox.prepare_worker_root()
    pool = WorkerPool(WorkerSettings(sys.executable, root, tmp_path, jail_for(sandbox.slot_users()[0])))
    try:
        probe = RemoteSubmission(pool).probe
        deadline = time.monotonic() + 30
        while not probe.loaded("torch._dynamo") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert probe.loaded("torch._dynamo"), "the worker never warmed torch._dynamo"
        assert not probe.loaded("sklearn")  # only the warm list: nothing the student did not ask for
    finally:
        pool.close()
        sandbox.remove_tree(root)


def test_an_import_that_kills_the_worker_twice_is_not_tried_a_third_time(tmp_path: Path) -> None:
    """Each retry of a deadly import costs a worker start (a loop at import: the whole test limit); after two in a
    row the pool answers at once with the same reason, so a1's 26 tests do not add up past Gradescope's timeout."""
    import pytest

    from autograder.isolation.proxy import WorkerLost

    (tmp_path / "deadly.py").write_text("import os\nos._exit(7)\n")
    tmp_path.chmod(0o755)
    (tmp_path / "deadly.py").chmod(0o644)
    root = sandbox.prepare_worker_root()
    pool = WorkerPool(WorkerSettings(sys.executable, root, tmp_path, jail_for(sandbox.slot_users()[0])))
    try:
        for _ in range(2):
            with pytest.raises(WorkerLost, match="7") as first:
                pool.request("import", module="deadly")
        started = pool.generation
        with pytest.raises(WorkerLost, match="not tried again") as third:
            pool.request("import", module="deadly")
        with pytest.raises(WorkerLost, match="not tried again"):
            RemoteSubmission(pool).deadly  # the submission fixture's way in: no worker started either
        assert pool.generation == started, "a third worker was started for an import that killed two"
        assert str(first.value) in str(third.value)  # the same reason, said again
    finally:
        pool.close()
        sandbox.remove_tree(root)
