"""Performance cheats earn nothing: each cheat is the a1 reference with a dishonest predict, measured by the
real engine (two workers, on-CPU time and placement read by the runner from /proc, output digests) against the
honest reference.

The second group is issue 9 §1: variants of a slow control (a predict doing about 2.9× the reference's work,
which earns none of the time points) that forged credit from inside the student's process. Each must earn no
more than the control.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.layout import CourseLayout
from autograder.isolation import sandbox
from autograder.perf.measure import Measurer
from autograder.perf.pairs import worker_pair
from autograder.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
HONEST = "    model.eval()\n    with torch.inference_mode():\n        return model(x)\n"
pytestmark = pytest.mark.slow
# The grading slot these workers use (each slot has its own accounts and lock; $AUTOGRADER_SLOT, which
# tests/conftest.py sets per xdist worker). The perf checks refuse to measure while the account has other processes.
SLOT = sandbox.default_slot()

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

# A predict doing about 2.9x the reference's work: the control every forging variant below is built on.
SLOW_WORK = """    model.eval()
    with torch.inference_mode():
        model(x)
        model(x)
        return model(x)
"""

# Module-level code each forging variant adds to execution_modes.py (it runs in the worker at import).
FORGERIES = {
    # Wraps the worker-side perf code: the untimed step does the real work and keeps the digest, the timed
    # step returns it. (Written for both protocols: before the fix, inputs were prepared in the untimed step;
    # after it, the attacker can only guess the timed inputs from the untimed request.)
    "replays_a_digest_from_the_untimed_step": ('''
import inspect as _inspect
import autograder.perf.batch as _ag_batch
_orig_prepare, _orig_run = _ag_batch.PerfSession.prepare, _ag_batch.PerfSession.run
_OLD_PROTOCOL = len(_inspect.signature(_orig_run).parameters) == 1

def _forged_prepare(self, *args, **kwargs):
    result = _orig_prepare(self, *args, **kwargs)
    if _OLD_PROTOCOL:
        self._stored = _orig_run(self)
    else:
        seed = kwargs.get("seed", args[3] if len(args) > 3 else 0)
        self._stored = _orig_run(self, seed, getattr(self, "_calls", 1))
        _orig_prepare(self, *args, **kwargs)
    return result

def _forged_run(self, *args, **kwargs):
    if len(args) > 1:
        self._calls = args[1]
    stored, self._stored = getattr(self, "_stored", None), None
    return stored if stored is not None else _orig_run(self, *args, **kwargs)

_ag_batch.PerfSession.prepare, _ag_batch.PerfSession.run = _forged_prepare, _forged_run
''', SLOW_WORK),
    # Three processes pin themselves to the CPU the check uses and spin; each timed call moves to another CPU.
    "spinners_on_the_checked_cpu_and_timed_calls_moved_away": ('''
import os as _os
_CHECKED = max(_os.sched_getaffinity(0))
for _ in range(3):
    if _os.fork() == 0:
        _os.sched_setaffinity(0, {_CHECKED})
        while True:
            pass
''', """    import os
    here = os.sched_getaffinity(0)
    elsewhere = set(range(os.cpu_count())) - {_CHECKED}
    if elsewhere:
        os.sched_setaffinity(0, elsewhere)
    try:
""" + "\n".join("    " + line if line else line for line in SLOW_WORK.splitlines()) + """
    finally:
        os.sched_setaffinity(0, here)
"""),
    # Without spinners: every timed call moves itself to another CPU and back.
    "timed_calls_moved_to_another_cpu": ("", """    import os
    here = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(range(os.cpu_count())) - {max(here)})
    try:
""" + "\n".join("    " + line if line else line for line in SLOW_WORK.splitlines()) + """
    finally:
        os.sched_setaffinity(0, here)
"""),
    # A helper process, forked at import, computes half of each batch (with the same wasted work).
    "a_helper_process_computes_half": ('''
import os as _os
import pickle as _pickle
from multiprocessing import Pipe as _Pipe
_requests_in, _requests_out = _Pipe(duplex=False)
_replies_in, _replies_out = _Pipe(duplex=False)
if _os.fork() == 0:
    torch.set_num_threads(1)
    _os.sched_setaffinity(0, set(range(_os.cpu_count())) - {max(_os.sched_getaffinity(0))} or {0})  # beside it
    _helper_model = None
    while True:
        _kind, _value = _pickle.loads(_requests_in.recv_bytes())
        if _kind == "model":
            _helper_model = _value.eval()
            continue
        with torch.inference_mode():
            _helper_model(_value)
            _helper_model(_value)
            _replies_out.send_bytes(_pickle.dumps(_helper_model(_value)))
''', """    if not getattr(model, "_helper_has_it", False):
        _requests_out.send_bytes(_pickle.dumps(("model", model)))
        model._helper_has_it = True
    half = x.shape[0] // 2
    _requests_out.send_bytes(_pickle.dumps(("x", x[half:])))
    model.eval()
    with torch.inference_mode():
        model(x[:half])
        model(x[:half])
        first = model(x[:half])
    return torch.cat([first, _pickle.loads(_replies_in.recv_bytes())])
"""),
    # Half of each call in a thread that has ended before the call returns.
    "a_short_lived_thread_computes_half": ("", """    import threading
    half, result = x.shape[0] // 2, {}
    def other_half():
        with torch.inference_mode():
            model(x[half:])
            model(x[half:])
            result["b"] = model(x[half:])
    model.eval()
    worker = threading.Thread(target=other_half)
    worker.start()
    with torch.inference_mode():
        model(x[:half])
        model(x[:half])
        first = model(x[:half])
    worker.join()
    return torch.cat([first, result["b"]])
"""),
}
NEEDS_TWO_CPUS |= {"timed_calls_moved_to_another_cpu"}
REFUSAL = {  # what the student may be told, by variant: refused for what it did, not by luck
    "replays_a_digest_from_the_untimed_step": ("returned different values",),
    # imported during the check's warm-up: the first timed call moves before the round's process scan
    "spinners_on_the_checked_cpu_and_timed_calls_moved_away": ("Another process of your code", "left the CPU"),
    "timed_calls_moved_to_another_cpu": ("left the CPU",),
    "a_helper_process_computes_half": ("Another process of your code",),
    "a_short_lived_thread_computes_half": ("threads that ended",),
}


@pytest.fixture(scope="module")
def a1():
    return load_spec(CourseLayout(REPO), "a1_execution_modes")


def _measure(a1, folder: Path, predict: str, module_code: str = ""):
    """predict_time of the reference with ``predict``'s body replaced (and ``module_code`` appended)."""
    source = (a1.reference_dir / "execution_modes.py").read_text()
    assert HONEST in source, "test bug: the reference's predict changed"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "execution_modes.py").write_text(source.replace(HONEST, predict, 1) + module_code)
    inputs = [a1.assignment_dir / "tests" / "perf_inputs.py"]
    with worker_pair(folder, a1.reference_dir, inputs, slot=SLOT) as (sub, ref):
        return Measurer(a1.perf_declaration("predict_time"), sub, ref, seed=7).measure()


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_cheat_earns_no_time_credit(cheat: str, a1, tmp_path: Path) -> None:
    if cheat in NEEDS_TWO_CPUS and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs to use more than the one it is given")
    result = _measure(a1, tmp_path, CHEATS[cheat])
    assert result.credit < 1.0, result.line
    if cheat in NEEDS_TWO_CPUS:  # it widened its placement: refused for that, or for the busy cores
        assert result.credit == 0.0 and ("left the CPU" in result.line or "CPU cores busy" in result.line), result.line
    elif cheat != "patches_timers_and_is_slow":
        assert result.credit == 0.0 and "returned different values" in result.line
    else:
        assert result.value is not None and result.value > 1.5, result.line  # the runner's clock saw the work


@pytest.fixture(scope="module")
def slow_control(a1, tmp_path_factory):
    """The control: about 2.9x the work, honestly; it earns none of the time points."""
    result = _measure(a1, tmp_path_factory.mktemp("slow"), SLOW_WORK)
    assert result.value is not None and result.value > 2.0 and result.credit == 0.0, result.line
    return result


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_speed_earns_no_more_than_the_slow_control(forgery: str, a1, slow_control, tmp_path: Path) -> None:
    if forgery in NEEDS_TWO_CPUS and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs to move between")
    module_code, predict = FORGERIES[forgery]
    result = _measure(a1, tmp_path, predict, module_code)
    assert result.credit <= slow_control.credit, result.line
    assert any(reason in result.line for reason in REFUSAL[forgery]), result.line


def test_honest_copy_earns_full_credit(a1, tmp_path: Path) -> None:
    (tmp_path / "execution_modes.py").write_text((a1.reference_dir / "execution_modes.py").read_text())
    inputs = [a1.assignment_dir / "tests" / "perf_inputs.py"]
    with worker_pair(tmp_path, a1.reference_dir, inputs, slot=SLOT) as (sub, ref):
        result = Measurer(a1.perf_declaration("predict_time"), sub, ref, seed=3).measure()
    assert result.credit == 1.0, result.line
    placement = result.extra["placement"]
    assert placement["pinned"] and len(placement["cpus"]) == 1, placement  # both sides on the same CPU
