"""Can a time threshold tell a correct solution from a slower one on this machine? (`make bench`)

A synthetic workload (``rounds`` matmuls of 256×256) is measured by the real engine: two workers, one thread
each, interleaved rounds on fresh inputs, digests compared. The "reference" does W units of work; variants do
1.10×, 1.15×, 1.25× and 1.5× W (extra matmuls whose results are discarded, so outputs are identical). The
threshold sits halfway between 1.0 and 1.15 (full credit at ≤ 1.075×).

Prints, quiet and with a busy-loop process beside it (pinned to the CPU the check uses):
1. reference vs itself: false-fail rate (target ≤ 0.5 %);
2. each variant: detection rate (target ≥ 99 % at 1.15×);
3. seconds one threshold check costs (median and max).

``--quota 0.5 --quota 1.0`` (root, cgroup v1) repeats the conditions inside a cgroup with that CFS CPU quota,
the way Docker applies ``--cpus`` (Gradescope's default is 0.5): this process moves itself into the cgroup,
so the workers it starts inherit it, while the busy loop stays outside, sharing the check's CPU like a
neighbouring container. The workers run under a grading slot's two accounts (``--slot``), holding its lock.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.isolation import sandbox  # noqa: E402
from autograder.isolation.proxy import WorkerPool, WorkerSettings  # noqa: E402
from autograder.perf import cpus  # noqa: E402
from autograder.perf.measure import Measurer, PerfDeclaration  # noqa: E402
from autograder.perf.pairs import jail_for  # noqa: E402
from autograder.perf.sides import WorkerSide  # noqa: E402

WORK = 10  # matmuls per call for the reference
INPUTS = '''
import torch

def matmul_inputs(module, size, generator, device, cache):
    if "w" not in cache:
        cache["w"] = (torch.randn(size, size, generator=generator) / size ** 0.5).to(device)
    return (torch.randn(size, size, generator=generator).to(device), cache["w"]), {}
'''


def make_module(folder: Path, factor: float) -> Path:
    """A module doing ``factor`` × the reference's work, with the reference's output."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workload.py").write_text(_variant_source(WORK * factor))
    return folder


def _variant_source(total: float) -> str:
    """WORK real matmuls (same output as the reference) plus (total - WORK) units of discarded work."""
    surplus = total - WORK
    whole, fraction = int(surplus), round(surplus - int(surplus), 4)
    return f'''
import torch

def work(x, w):
    y = x
    for _ in range({WORK}):
        y = torch.tanh(y @ w)
    for _ in range({whole}):
        _ = torch.tanh(x @ w)  # discarded
    if {fraction}:
        rows = max(1, int(x.shape[0] * {fraction}))
        _ = torch.tanh(x[:rows] @ w)  # discarded
    return y
'''


def busy_loop(cpu: int) -> None:  # pragma: no cover - runs in a child process
    os.sched_setaffinity(0, {cpu})
    while True:
        pass


CGROUP_CPU = Path("/sys/fs/cgroup/cpu")


def rate_bounds(hits: int, n: int) -> str:
    """The exact (Clopper-Pearson) 95 % interval of a rate seen ``hits`` times in ``n``: what the count proves."""
    from scipy.stats import beta

    low = 0.0 if hits == 0 else beta.ppf(0.025, hits, n - hits + 1)
    high = 1.0 if hits == n else beta.ppf(0.975, hits + 1, n - hits)
    return f"95 % interval of the flagged rate {low:.2%}-{high:.2%}"


def tail_estimate(ratios: list[float], full: float) -> str:
    """The flagged rate a log-normal fit of the ratios predicts (P(ratio > full)): an extrapolation for rates
    too small to count in a few hundred checks, to read beside the exact interval."""
    import math

    logs = [math.log(r) for r in ratios if r and r > 0]
    if len(logs) < 5:
        return "too few ratios to fit"
    fit = statistics.NormalDist(statistics.fmean(logs), statistics.stdev(logs))
    below = fit.cdf(math.log(full))
    return f"log-normal fit (sd {fit.stdev:.3f}) puts P(ratio > {full}) at {1 - below:.2e}, P(ratio <= {full}) at {below:.2e}"


@contextlib.contextmanager
def cpu_quota(cpus_: float | None):
    """Run the body inside a cgroup-v1 CPU quota of ``cpus_`` CPUs (None: no quota); this process moves in and
    back out, so workers started inside inherit it."""
    if cpus_ is None:
        yield
        return
    group = CGROUP_CPU / f"ag-bench-{os.getpid()}"
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text(str(int(cpus_ * 100000)))
        (group / "cgroup.procs").write_text(str(os.getpid()))
        yield
    finally:
        (CGROUP_CPU / "cgroup.procs").write_text(str(os.getpid()))
        for _ in range(50):
            with contextlib.suppress(OSError):
                group.rmdir()
                break
            time.sleep(0.1)


def run(checks_self: int, checks_variant: int, size: int, busy: bool, scratch: Path, quota: float | None,
        slot: int, factors: list[float]) -> None:
    student, reference_user = sandbox.slot_users(slot)
    root = sandbox.prepare_worker_root()
    (root / "lib" / "bench_inputs.py").write_text(INPUTS)
    (root / "lib" / "bench_inputs.py").chmod(0o644)
    declaration = PerfDeclaration(name="bench", metric="time", function="workload.work",
                                  inputs="bench_inputs.matmul_inputs", size=size, full=1.075, zero=1.5,
                                  min_batch_ms=10.0, max_seconds=10.0, min_rounds=10, max_rounds=60)
    hog = multiprocessing.Process(target=busy_loop, args=(max(cpus.shared_cpus(1)),), daemon=True) if busy else None
    if hog:
        hog.start()  # before entering the quota: a neighbour outside the container, on the check's CPU
    with cpu_quota(quota):
        _conditions(checks_self, checks_variant, root, scratch, declaration, busy, quota, student,
                    reference_user, factors)
    if hog:
        hog.terminate()
    sandbox.remove_tree(root)


def _conditions(checks_self: int, checks_variant: int, root: Path, scratch: Path, declaration: PerfDeclaration,
                busy: bool, quota: float | None, student: str, reference_user: str, factors: list[float]) -> None:
    reference_pool = WorkerPool(WorkerSettings(sys.executable, root, make_module(scratch / "ref", 1.0),
                                               jail_for(reference_user)))
    reference = WorkerSide(reference_pool, "reference")
    where = f"CPU quota {quota} (cgroup v1)" if quota else "no CPU quota"
    print(f"\n{where}, {'with a busy loop beside it on the same CPU' if busy else 'no busy neighbour'} "
          f"(threshold: full credit at <= {declaration.full}x):", flush=True)
    print(f"  {'variant':<16}{'checks':>7}{'flagged':>9}{'rate':>9}{'median ratio':>14}{'s/check med':>13}{'max':>7}"
          f"{'refused':>9}")
    for factor in factors:
        label = "1.00x (itself)" if factor == 1.0 else f"{factor:.2f}x"
        pool = WorkerPool(WorkerSettings(sys.executable, root, make_module(scratch / label.split()[0], factor),
                                         jail_for(student)))
        side = WorkerSide(pool, "variant")
        checks = checks_self if factor == 1.0 else checks_variant
        flagged, refused, seconds, medians = 0, 0, [], []
        for check in range(checks):
            start = time.perf_counter()
            result = Measurer(declaration, side, reference, seed=check).measure()
            seconds.append(time.perf_counter() - start)
            if result.value is None:  # refused (e.g. another process of the account): say so, don't hide it
                refused += 1
                print(f"    refused: {result.line}", flush=True)
            else:
                medians.append(result.value)
            flagged += result.credit < 1.0
        pool.close()
        rate = flagged / checks
        target = ("  target <= 0.5%: " + ("met" if rate <= 0.005 else "NOT met")) if factor == 1.0 else \
                 ("  target >= 99%: " + ("met" if rate >= 0.99 else "NOT met")) if factor == 1.15 else ""
        median = statistics.median(medians) if medians else float("nan")
        print(f"  {label:<16}{checks:>7}{flagged:>9}{rate:>8.1%}{median:>13.3f}x"
              f"{statistics.median(seconds):>12.2f}s{max(seconds):>6.1f}s{refused:>9}{target}", flush=True)
        print(f"  {'':<16}{rate_bounds(flagged, checks)}; {tail_estimate(medians, declaration.full)}", flush=True)
    reference_pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks-self", type=int, default=200)
    parser.add_argument("--checks-variant", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--quiet-only", action="store_true")
    parser.add_argument("--busy-only", action="store_true")
    parser.add_argument("--quota", type=float, action="append", default=None,
                        help="CPU quota in CPUs (repeatable; root and cgroup v1); 0 means no quota")
    parser.add_argument("--factors", default="1.0,1.1,1.15,1.25,1.5", help="work factors of the variants")
    parser.add_argument("--slot", type=int, default=0, help="grading slot whose accounts run the workers")
    options = parser.parse_args()
    conditions = (False,) if options.quiet_only else (True,) if options.busy_only else (False, True)
    quotas = [q or None for q in (options.quota or [0.0])]
    factors = [float(f) for f in options.factors.split(",")]
    # Its workers run as the slot's accounts: hold the slot so no grading run's final kill-all ends them.
    with tempfile.TemporaryDirectory() as scratch, sandbox.AccountLock.for_slot(options.slot):
        for quota in quotas:
            for busy in conditions:
                folder = Path(scratch) / f"{quota}-{busy}"
                run(options.checks_self, options.checks_variant, options.size, busy, folder, quota, options.slot,
                    factors)
                shutil.rmtree(folder, ignore_errors=True)

if __name__ == "__main__":
    main()
