"""Can a time threshold tell a correct solution from a slower one on this machine? (`make bench`)

A synthetic workload (``rounds`` matmuls of 256×256) is measured by the real engine: two workers, one thread
each, interleaved rounds on fresh inputs, digests compared. The "reference" does W units of work; variants do
1.10×, 1.15×, 1.25× and 1.5× W (extra matmuls whose results are discarded, so outputs are identical). The
threshold sits halfway between 1.0 and 1.15 (full credit at ≤ 1.075×).

Prints, quiet and with a busy-loop process beside it:
1. reference vs itself: false-fail rate (target ≤ 0.5 %);
2. each variant: detection rate (target ≥ 99 % at 1.15×);
3. seconds one threshold check costs (median and max).
"""

from __future__ import annotations

import argparse
import multiprocessing
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
from autograder.perf.measure import Measurer, PerfDeclaration  # noqa: E402
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


def busy_loop() -> None:  # pragma: no cover - runs in a child process
    while True:
        pass


def run(checks_self: int, checks_variant: int, size: int, busy: bool, scratch: Path) -> None:
    account = sandbox.grading_account()
    root = sandbox.prepare_worker_root()
    (root / "lib" / "bench_inputs.py").write_text(INPUTS)
    jail = {"rlimits": {}, "block_network": True}
    if account is not None:
        jail.update(uid=account.uid, gid=account.gid, user=account.name)
    declaration = PerfDeclaration(name="bench", metric="time", function="workload.work",
                                  inputs="bench_inputs.matmul_inputs", size=size, full=1.075, zero=1.5,
                                  min_batch_ms=10.0, max_seconds=10.0, min_rounds=10, max_rounds=60)
    hog = multiprocessing.Process(target=busy_loop, daemon=True) if busy else None
    if hog:
        hog.start()
    reference_pool = WorkerPool(WorkerSettings(sys.executable, root, make_module(scratch / "ref", 1.0), jail))
    reference = WorkerSide(reference_pool, "reference")
    print(f"\n{'with a busy-loop process beside it' if busy else 'quiet machine'} "
          f"(threshold: full credit at <= {declaration.full}x):")
    print(f"  {'variant':<16}{'checks':>7}{'flagged':>9}{'rate':>9}{'median ratio':>14}{'s/check med':>13}{'max':>7}")
    for label, factor in (("1.00x (itself)", 1.0), ("1.10x", 1.10), ("1.15x", 1.15), ("1.25x", 1.25), ("1.50x", 1.50)):
        pool = WorkerPool(WorkerSettings(sys.executable, root, make_module(scratch / label.split()[0], factor), jail))
        side = WorkerSide(pool, "variant")
        checks = checks_self if factor == 1.0 else checks_variant
        flagged, seconds, medians = 0, [], []
        for check in range(checks):
            start = time.perf_counter()
            result = Measurer(declaration, side, reference, seed=check).measure()
            seconds.append(time.perf_counter() - start)
            medians.append(result.value or 0.0)
            flagged += result.credit < 1.0
        pool.close()
        rate = flagged / checks
        target = ("  target <= 0.5%: " + ("met" if rate <= 0.005 else "NOT met")) if factor == 1.0 else \
                 ("  target >= 99%: " + ("met" if rate >= 0.99 else "NOT met")) if factor == 1.15 else ""
        print(f"  {label:<16}{checks:>7}{flagged:>9}{rate:>8.1%}{statistics.median(medians):>13.3f}x"
              f"{statistics.median(seconds):>12.2f}s{max(seconds):>6.1f}s{target}")
    reference_pool.close()
    if hog:
        hog.terminate()
    sandbox.remove_tree(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks-self", type=int, default=200)
    parser.add_argument("--checks-variant", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--quiet-only", action="store_true")
    parser.add_argument("--busy-only", action="store_true")
    options = parser.parse_args()
    conditions = (False,) if options.quiet_only else (True,) if options.busy_only else (False, True)
    # Its workers run as slot 0's account: hold the slot so no grading run's final kill-all ends them.
    with tempfile.TemporaryDirectory() as scratch, sandbox.AccountLock.for_slot(0):
        for busy in conditions:
            run(options.checks_self, options.checks_variant, options.size, busy, Path(scratch) / str(busy))
            shutil.rmtree(Path(scratch) / str(busy), ignore_errors=True)


if __name__ == "__main__":
    main()
