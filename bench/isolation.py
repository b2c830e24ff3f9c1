"""What running student code in its own process costs (`make bench`).

1. One proxied call carrying a 1 MB tensor each way, versus the same call made directly (target ≤ 1 ms),
   in steady state: after 3 s of calls, past the worker's warm-up imports.
2. Worker start: from launch to ready (imports torch, locks itself down).
3. A full a1 grade of the reference (its correctness tests), isolated versus in-process (target ≤ 1.3×),
   interleaved A B A B.

Ratios are measured in one run on this machine; absolute times vary 1.3-1.8× between processes here.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.grading import grade  # noqa: E402
from autograder.isolation import sandbox  # noqa: E402
from autograder.isolation.proxy import RemoteSubmission, WorkerPool, WorkerSettings  # noqa: E402
from autograder.layout import CourseLayout  # noqa: E402
from autograder.loading import PackageView  # noqa: E402
from autograder.perf.allocator import set_allocator  # noqa: E402
from autograder.spec import load_spec  # noqa: E402

ECHO = "def echo(x):\n    return x + 1\n"


def pool_for(folder: Path, root: Path) -> WorkerPool:
    account = sandbox.grading_account()
    jail = {"rlimits": {}, "block_network": True}
    if account is not None:
        jail.update(uid=account.uid, gid=account.gid, user=account.name)
    return WorkerPool(WorkerSettings(python=sys.executable, worker_root=root, submission=folder, jail=jail))


def bench_call(calls: int) -> None:
    set_allocator("steady")  # as the plugin sets it in the runner when it starts the first worker
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "sub"
        folder.mkdir()
        (folder / "echo_module.py").write_text(ECHO)
        root = sandbox.prepare_worker_root()
        pool = pool_for(folder, root)
        pool.start()
        remote = RemoteSubmission(pool).echo_module.echo
        direct = PackageView(folder, label="bench", namespace="_bench_direct").echo_module.echo
        x = torch.ones(256 * 1024)  # 1 MiB of float32
        settle_until = time.perf_counter() + 3.0  # steady state: past the worker's warm-up imports (worker.py)
        while time.perf_counter() < settle_until:
            remote(x), direct(x)
        proxied, plain = [], []
        for _ in range(calls):  # interleaved
            start = time.perf_counter(); remote(x); proxied.append(time.perf_counter() - start)
            start = time.perf_counter(); direct(x); plain.append(time.perf_counter() - start)
        pool.close()
        sandbox.remove_tree(root)
    p, d = statistics.median(proxied), statistics.median(plain)
    print(f"1. proxied call, 1 MiB tensor each way: median {p * 1e3:.3f} ms (p90 {sorted(proxied)[int(calls * .9)] * 1e3:.3f} ms); "
          f"direct {d * 1e3:.3f} ms; overhead {(p - d) * 1e3:.3f} ms  [target ≤ 1 ms: {'met' if p <= 1e-3 else 'NOT met'}]")


def bench_start(starts: int) -> None:
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        root = sandbox.prepare_worker_root()
        for _ in range(starts):
            pool = pool_for(folder, root)
            start = time.perf_counter()
            pool.worker()
            times.append(time.perf_counter() - start)
            pool.close()
        sandbox.remove_tree(root)
    print(f"2. worker start (launch → ready, imports torch): median {statistics.median(times):.2f} s, "
          f"min {min(times):.2f} s, max {max(times):.2f} s over {starts}")


def bench_grade(rounds: int) -> None:
    layout = CourseLayout(REPO)
    # Without its perf declarations: in-process runs have no reference worker to time against, so the perf
    # tests would measure different things in the two modes. Both runs then fail those 3 tests alike.
    spec = replace(load_spec(layout, "a1_execution_modes"), perf=())
    isolated, in_process, ratios = [], [], []
    for _ in range(rounds):
        start = time.perf_counter(); a = grade(spec, spec.reference_dir, seed=1, isolate=True); isolated.append(time.perf_counter() - start)
        start = time.perf_counter(); b = grade(spec, spec.reference_dir, seed=1, isolate=False); in_process.append(time.perf_counter() - start)
        ratios.append(isolated[-1] / in_process[-1])
        assert a["score"] == b["score"], (a["score"], b["score"])
    r = statistics.median(ratios)
    print(f"3. a1 reference grade (correctness tests): isolated median {statistics.median(isolated):.1f} s, in-process "
          f"{statistics.median(in_process):.1f} s; ratio median {r:.2f}× (per round: "
          f"{', '.join(f'{x:.2f}' for x in ratios)})  [target ≤ 1.3×: {'met' if r <= 1.3 else 'NOT met'}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    torch.set_num_threads(1)
    with sandbox.AccountLock.for_slot(0):  # its workers run as slot 0's account: no grading run may kill them
        bench_call(options.calls)
        bench_start(options.starts)
        bench_grade(options.rounds)  # grade() takes the same lock again (re-entrant in this thread)


if __name__ == "__main__":
    main()
