"""Performance cheats earn nothing: each cheat is the a1 reference with a dishonest predict, measured by the
real engine (two workers, the runner's clock, output digests) against the honest reference."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.layout import CourseLayout
from autograder.perf.measure import Measurer
from autograder.perf.pairs import worker_pair
from autograder.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
HONEST = "    model.eval()\n    with torch.inference_mode():\n        return model(x)\n"
pytestmark = pytest.mark.slow

CHEATS = {
    # Returns the first batch's answer for every later call.
    "caches_outputs_across_calls": """    global _CACHE
    if "_CACHE" not in globals():
        model.eval()
        with torch.inference_mode():
            _CACHE = model(x)
    return _CACHE
""",
    # Answers with a plausible constant instead of computing.
    "returns_precomputed_results": """    return torch.zeros(x.shape[0], 10)
""",
    # Does twice the work, and tries to hide it by freezing every clock in its own process.
    "patches_timers_and_is_slow": """    import time, torch.utils.benchmark as benchmark
    time.perf_counter = time.monotonic = time.time = lambda: 0.0
    time.perf_counter_ns = time.monotonic_ns = lambda: 0
    benchmark.Timer = None
    model.eval()
    with torch.inference_mode():
        model(x)
        return model(x)
""",
    # Returns at once and computes the answer in a background thread afterwards.
    "finishes_in_a_background_thread": """    import threading, time
    out = torch.zeros(x.shape[0], 10)
    def late():
        time.sleep(0.05)
        with torch.inference_mode():
            out.copy_(model.eval()(x))
    threading.Thread(target=late, daemon=True).start()
    return out
""",
    # Widens its own CPU affinity again and computes on every core while the reference gets one.
    "computes_on_every_core": """    import os
    os.sched_setaffinity(0, range(os.cpu_count()))
    torch.set_num_threads(os.cpu_count())
    model.eval()
    with torch.inference_mode():
        return model(x)
""",
}
NEEDS_TWO_CPUS = {"computes_on_every_core"}


@pytest.fixture(scope="module")
def a1():
    return load_spec(CourseLayout(REPO), "a1_execution_modes")


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_cheat_earns_no_time_credit(cheat: str, a1, tmp_path: Path) -> None:
    if cheat in NEEDS_TWO_CPUS and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs to use more than the one it is given")
    source = (a1.reference_dir / "execution_modes.py").read_text()
    assert HONEST in source, "test bug: the reference's predict changed"
    (tmp_path / "execution_modes.py").write_text(source.replace(HONEST, CHEATS[cheat], 1))
    declaration = a1.perf_declaration("predict_time")
    inputs = [a1.assignment_dir / "tests" / "perf_inputs.py"]
    with worker_pair(tmp_path, a1.reference_dir, inputs) as (submission, reference):
        result = Measurer(declaration, submission, reference, seed=7).measure()
    assert result.credit < 1.0, result.line
    if cheat in NEEDS_TWO_CPUS:
        assert result.credit == 0.0 and "CPU cores busy" in result.line, result.line
    elif cheat != "patches_timers_and_is_slow":
        assert result.credit == 0.0 and "returned different values" in result.line
    else:
        assert result.value is not None and result.value > 1.5, result.line  # the runner's clock saw the work


def test_honest_copy_earns_full_credit(a1, tmp_path: Path) -> None:
    (tmp_path / "execution_modes.py").write_text((a1.reference_dir / "execution_modes.py").read_text())
    with worker_pair(tmp_path, a1.reference_dir, [a1.assignment_dir / "tests" / "perf_inputs.py"]) as (sub, ref):
        result = Measurer(a1.perf_declaration("predict_time"), sub, ref, seed=3).measure()
    assert result.credit == 1.0, result.line
    placement = result.extra["placement"]
    assert placement["pinned"] and len(placement["cpus"]) == 1, placement  # both sides on the same CPU
