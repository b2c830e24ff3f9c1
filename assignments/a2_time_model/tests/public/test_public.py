"""A2 public tests: small cases with independent oracles; the hidden tests run the same checks on more cases.

Expected values are computed while grading, never stored: FLOPs by FlopCounterMode, bytes from the tensors an
operation really reads and writes, benchmark method from the event log of the fake device
(tests/a2_probes.py), schedules from the lecture's example. These tests also run on your machine, where there
is no reference solution, so they check method and plausibility, not your machine's speed.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from gradescope_utils.autograder_utils.decorators import number, weight
from torch import nn

from autograder import kit


def _work(value: object, what: str) -> tuple[int, int]:
    assert isinstance(value, dict) and {"flops", "bytes"} <= set(value), (
        f"expected {what} to return a dict with keys 'flops' and 'bytes', got {value!r:.200}")
    flops, moved = value["flops"], value["bytes"]
    assert isinstance(flops, int) and isinstance(moved, int), (
        f"expected {what} to count in plain Python ints, got flops={flops!r}, bytes={moved!r}")
    return flops, moved


# ---------------------------------------------------------------- W: the work
@weight(2)
@number("1.1")
def test_matmul_and_linear_work(submission, rng, helpers):
    """matmul_work and linear_work: FLOPs as FlopCounterMode counts them, bytes of inputs read + output written"""
    student = submission.time_model
    m, k, n = 6, 5, 3
    a, b = kit.randn(rng, m, k), kit.randn(rng, k, n)
    flops, moved = _work(student.matmul_work(m, k, n), f"matmul_work({m}, {k}, {n})")
    expected_flops = helpers.flop_counter(lambda: a @ b)
    assert flops == expected_flops, (
        f"matmul_work({m}, {k}, {n})['flops']: FlopCounterMode counts {expected_flops} (2 per multiply-add), got {flops}")
    expected_bytes = helpers.nbytes(a, b, a @ b)
    assert moved == expected_bytes, (
        f"matmul_work({m}, {k}, {n})['bytes']: reading A ({m}x{k}) and B ({k}x{n}) once and writing the output "
        f"({m}x{n}) once moves {expected_bytes} bytes of float32, got {moved}")

    layer = nn.Linear(7, 4)
    x = kit.randn(rng, 9, 7)
    flops, moved = _work(student.linear_work(9, 7, 4), "linear_work(9, 7, 4)")
    expected_flops = helpers.flop_counter(lambda: layer(x))
    assert flops == expected_flops, f"linear_work(9, 7, 4)['flops']: FlopCounterMode counts {expected_flops}, got {flops}"
    expected_bytes = helpers.nbytes(x, layer.weight, layer.bias, layer(x))
    assert moved == expected_bytes, (
        f"linear_work(9, 7, 4)['bytes']: input + weight + bias read once, output written once = {expected_bytes}, got {moved}")
    _, moved64 = _work(student.linear_work(9, 7, 4, bias=False, element_size=8), "linear_work(..., bias=False, element_size=8)")
    expected = helpers.nbytes(x.double(), layer.weight.double(), layer(x).double())
    assert moved64 == expected, f"linear_work(9, 7, 4, bias=False, element_size=8)['bytes']: expected {expected}, got {moved64}"


@weight(2)
@number("1.2")
def test_conv2d_work(submission, rng, helpers):
    """conv2d_work: FLOPs as FlopCounterMode counts them, bytes of input, weight, bias and output"""
    student = submission.time_model
    layer = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    x = kit.randn(rng, 2, 3, 9, 10)
    case = "conv2d_work(2, 3, 8, 9, 10, kernel_size=3, stride=2, padding=1)"
    flops, moved = _work(student.conv2d_work(2, 3, 8, 9, 10, kernel_size=3, stride=2, padding=1), case)
    expected_flops = helpers.flop_counter(lambda: layer(x))
    assert flops == expected_flops, (f"{case}['flops']: FlopCounterMode counts {expected_flops} "
                                     f"(output {tuple(layer(x).shape)}), got {flops}")
    expected_bytes = helpers.nbytes(x, layer.weight, layer.bias, layer(x))
    assert moved == expected_bytes, f"{case}['bytes']: input + weight + bias + output = {expected_bytes} bytes, got {moved}"


@weight(1)
@number("1.3")
def test_elementwise_softmax_and_intensity(submission):
    """elementwise_work, softmax_work and arithmetic_intensity on the handout's conventions"""
    student = submission.time_model
    assert _work(student.elementwise_work(1000), "elementwise_work(1000)") == (1000, 8000), (
        "elementwise_work(1000) (ReLU-like: 1 input, 1 FLOP per element, float32): expected 1000 FLOPs and "
        f"8000 bytes (read 4000, write 4000), got {student.elementwise_work(1000)}")
    got = _work(student.elementwise_work(10, num_inputs=2, flops_per_element=1, element_size=2), "elementwise_work")
    assert got == (10, 60), f"elementwise_work(10, num_inputs=2, element_size=2) (a + b in float16): expected (10, 60), got {got}"
    got = _work(student.softmax_work(100), "softmax_work(100)")
    assert got == (500, 800), f"softmax_work(100): expected 500 FLOPs (5 per element) and 800 bytes, got {got}"
    intensity = student.arithmetic_intensity({"flops": 300, "bytes": 40})
    assert isinstance(intensity, float) and math.isclose(intensity, 7.5), f"arithmetic_intensity(300 FLOPs, 40 bytes): expected 7.5, got {intensity!r}"


@weight(2)
@number("1.4")
def test_layer_work_small_mlp(submission, student_process, rng, helpers):
    """layer_work on a small nn.Sequential: per-layer FLOPs match FlopCounterMode for Linear, bytes and shapes"""
    student = submission.time_model
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(dim=1))
    x = kit.randn(rng, 5, 3, 4)
    oracle = helpers.layer_oracle(model, x)
    got = student.layer_work(student_process.build(model), [5, 3, 4])
    assert isinstance(got, list) and len(got) == len(oracle), (
        f"expected layer_work to return a list of {len(oracle)} dicts, one per layer, got {got!r:.300}")
    for row, expected in zip(got, oracle):
        where = f"layer {expected['name']} ({expected['kind']})"
        assert isinstance(row, dict), f"{where}: expected a dict, got {row!r:.200}"
        for key in ("name", "kind", "output_shape"):
            assert row.get(key) == expected[key], f"{where}: expected {key}={expected[key]!r}, got {row.get(key)!r}"
        if expected["kind"] == "Linear":
            assert row.get("flops") == expected["flops"], (
                f"{where}: FlopCounterMode counts {expected['flops']} FLOPs, got {row.get('flops')!r}")
        assert row.get("bytes") == expected["bytes"], (
            f"{where}: input + parameters read once and output written once = {expected['bytes']} bytes, got {row.get('bytes')!r}")
    relu = [r for r in got if r.get("kind") == "ReLU"][0]
    assert relu.get("flops") == 5 * 8, f"ReLU on 5x8 elements: 1 FLOP per element = 40 (FlopCounterMode counts 0: it only counts matmuls and convolutions), got {relu.get('flops')!r}"
    softmax = got[-1]
    assert softmax.get("flops") == 5 * 5 * 3, f"Softmax on 5x3 elements: 5 FLOPs per element = 75, got {softmax.get('flops')!r}"


# ---------------------------------------------------------------- t: microbenchmarks
@weight(3)
@number("1.5")
def test_benchmark_method_on_a_fake_device(submission, student_process, helpers):
    """benchmark warms up, repeats, uses the thread count and syncs before every clock read (fake GPU)"""
    student = submission.time_model
    device = student_process.call("a2_probes.make_device", 2, 0.05, 0.001)
    threads_before = student_process.call("a2_probes.set_threads", 1)
    result = student.benchmark(device.fn, device.sync, clock=device.clock, warmup=2, repeats=5, num_threads=1)
    report = device.report()
    problems = helpers.benchmark_problems(report["events"], result, warmup=2, repeats=5, num_threads=1,
                                          warm_cost=0.001, threads_before=1, threads_after=report["threads_now"])
    student_process.call("a2_probes.set_threads", threads_before)
    assert not problems, ("benchmark(fn, sync, clock=..., warmup=2, repeats=5, num_threads=1) on a fake asynchronous "
                          "device (first 2 calls cost 50 ms, then 1 ms each):\n- " + "\n- ".join(problems))


@weight(1)
@number("1.6")
def test_measured_rates_are_plausible(submission):
    """measure_peak_flops and measure_bandwidth return plausible CPU rates"""
    student = submission.time_model
    result = student.measure_peak_flops(torch.device("cpu"), sizes=[64, 128], num_threads=1)
    assert isinstance(result, dict) and set(result.get("flops_per_s", {})) == {64, 128}, (
        f"expected measure_peak_flops(cpu, sizes=[64, 128]) to return {{'flops_per_s': {{64: ..., 128: ...}}, 'peak': ...}}, got {result!r:.300}")
    assert math.isclose(result["peak"], max(result["flops_per_s"].values())), "expected 'peak' to be the largest of the rates"
    assert 1e7 < result["peak"] < 1e14, (
        f"a CPU core does 1e8 to 1e13 FLOP/s; measure_peak_flops says {result['peak']:.3g}: check the units (seconds, 2*n**3 FLOPs)")
    bandwidth = student.measure_bandwidth(torch.device("cpu"), numel=1 << 20, num_threads=1)
    assert isinstance(bandwidth, float) and 1e7 < bandwidth < 1e13, (
        f"memory bandwidth is 1e8 to 1e12 bytes/s; measure_bandwidth says {bandwidth!r}: check the units "
        "(bytes, not elements; read + write)")


# ---------------------------------------------------------------- P: parallelism and the burners
@weight(2)
@number("1.7")
def test_fit_amdahl_and_average_parallelism(submission):
    """fit_amdahl recovers the serial fraction of exact Amdahl data; average_parallelism = work / makespan"""
    student = submission.time_model
    for serial in (0.0, 0.1, 0.5):
        threads = [1, 2, 4, 8]
        speedups = [1 / (serial + (1 - serial) / p) for p in threads]
        got = student.fit_amdahl(threads, speedups)
        assert isinstance(got, float) and math.isclose(got, serial, abs_tol=1e-9), (
            f"fit_amdahl({threads}, {[round(s, 4) for s in speedups]}): these speedups follow Amdahl's law with serial "
            f"fraction {serial}, got {got!r}")
    got = student.average_parallelism(15.0, 10.0)
    assert math.isclose(got, 1.5), f"average_parallelism(15, 10): expected 1.5, got {got!r}"


@weight(2)
@number("1.8")
def test_coffee_and_omelette(submission):
    """the lecture's coffee (10 min) and omelette (5 min) on one and on two burners, then an omelette that waits for chopping"""
    student = submission.time_model
    durations, deps = {"coffee": 10.0, "omelette": 5.0}, {}
    for burners, expected in ((1, 15.0), (2, 10.0)):
        schedule = student.list_schedule(durations, deps, burners)
        assert isinstance(schedule, dict) and "makespan" in schedule, f"expected a dict with 'makespan', got {schedule!r:.200}"
        assert math.isclose(schedule["makespan"], expected), (
            f"coffee 10 min + omelette 5 min on {burners} burner(s): expected makespan {expected}, got {schedule['makespan']!r}")
        optimum = student.optimal_makespan(durations, deps, burners)
        assert math.isclose(optimum, expected), f"optimal_makespan on {burners} burner(s): expected {expected}, got {optimum!r}"
    two = student.list_schedule(durations, deps, 2)
    assert two.get("start") == {"coffee": 0.0, "omelette": 0.0} and sorted(two.get("burner", {}).values()) == [0, 1], (
        f"on two burners both start at 0 on different burners; got start={two.get('start')}, burner={two.get('burner')}")
    got = student.average_parallelism(15.0, two["makespan"])
    assert math.isclose(got, 1.5), f"average parallelism on two burners: 15 min of work in 10 min = 1.5, got {got!r}"
    # a dependency: the omelette waits for the chopping, so the free burner takes the coffee first
    durations, deps = {"chop": 2.0, "omelette": 5.0, "coffee": 10.0}, {"omelette": ["chop"]}
    waits = student.list_schedule(durations, deps, 2)
    assert isinstance(waits, dict) and waits.get("start", {}).get("omelette") == 2.0 and waits.get("makespan") == 10.0, (
        "chop (2 min), then omelette (5 min, needs chop), and coffee (10 min) on two burners, priority in that order: "
        "at 0 one burner chops and the other cannot start the omelette yet, so it takes the coffee; the omelette "
        f"starts at 2 when chopping ends; makespan 10. Got start={waits.get('start') if isinstance(waits, dict) else waits!r}, "
        f"makespan={waits.get('makespan') if isinstance(waits, dict) else None!r}")


# ---------------------------------------------------------------- prediction
@weight(2)
@number("1.9")
def test_roofline_time_and_bound(submission):
    """roofline_time is the larger of compute time and memory time; bound names the one that wins"""
    student = submission.time_model
    peak, bandwidth = 100e9, 10e9  # ridge point: 10 FLOP/byte
    cases = [({"flops": 2_000_000, "bytes": 1_000}, 2e-5, "compute"),
             ({"flops": 1_000, "bytes": 1_000_000}, 1e-4, "memory"),
             ({"flops": 10_000, "bytes": 1_000}, 1e-7, "compute")]  # exactly at the ridge: compute
    for work, seconds, kind in cases:
        got = student.roofline_time(work, peak, bandwidth)
        assert math.isclose(got, seconds, rel_tol=1e-9), (
            f"roofline_time({work}, peak 100 GFLOP/s, 10 GB/s): compute {work['flops'] / peak:g} s, memory "
            f"{work['bytes'] / bandwidth:g} s, they overlap, so expected {seconds:g} s; got {got!r}")
        assert student.bound(work, peak, bandwidth) == kind, (
            f"bound({work}, 100 GFLOP/s, 10 GB/s): intensity {work['flops'] / work['bytes']:g} vs ridge 10 FLOP/byte: "
            f"expected {kind!r}, got {student.bound(work, peak, bandwidth)!r}")


# ---------------------------------------------------------------- growth
@weight(2)
@number("1.10")
def test_fit_exponent_and_the_quadratic_case(submission):
    """fit_exponent finds the power of exact power laws; model_exponent knows attention is quadratic"""
    student = submission.time_model
    sizes = [64, 128, 256, 512]
    for power in (1.0, 2.0, 1.5):
        times = [3e-6 * n ** power for n in sizes]
        got = student.fit_exponent(sizes, times)
        assert math.isclose(got, power, abs_tol=1e-9), f"fit_exponent on time = 3e-6 * n**{power}: expected {power}, got {got!r}"
    assert student.model_exponent("batch") == 1, f"model_exponent('batch'): expected 1, got {student.model_exponent('batch')!r}"
    got = student.model_exponent("seq_len")
    assert got == 2, f"model_exponent('seq_len'): attention's q @ k.T is n x n: expected 2, got {got!r}"


# ---------------------------------------------------------------- the plot
@weight(2)
@number("1.11")
def test_roofline_plot(submission, student_process):
    """roofline_plot writes a PNG and draws the ceiling and the layers from the data given"""
    student = submission.time_model
    path = student_process.call("a2_probes.scratch_path", "roofline.png")
    peak, bandwidth = 50e9, 5e9
    layers = [{"name": "fc1", "flops": 4_000_000, "bytes": 100_000, "seconds": 1e-4},
              {"name": "relu", "flops": 10_000, "bytes": 80_000, "seconds": 2e-5}]
    figure = student.roofline_plot(path, peak, bandwidth, layers)
    header = student_process.call("a2_probes.png_header", path)
    assert header.get("exists") and header.get("png"), f"expected roofline_plot to write a PNG file at the path given; {header}"
    data = student_process.call("a2_probes.figure_data", figure)
    assert data["axes"], f"expected roofline_plot to return the matplotlib Figure it drew, got a {data['type']}"
    ax = data["axes"][0]
    assert ax["xscale"] == "log" and ax["yscale"] == "log", f"expected log-log axes, got x {ax['xscale']}, y {ax['yscale']}"
    assert ax["lines"], "expected the roofline ceiling as the axes' first line (ax.plot)"
    xs, ys = ax["lines"][0]
    assert len(xs) >= 50, f"expected the ceiling drawn with at least 50 points, got {len(xs)}"
    for x, y in zip(xs, ys):
        assert math.isclose(y, min(peak, bandwidth * x), rel_tol=1e-6), (
            f"the ceiling at intensity {x:g} should be min(peak, bandwidth * x) = {min(peak, bandwidth * x):g}, got {y:g}")
    assert min(xs) <= 0.1 * peak / bandwidth and max(xs) >= 10 * peak / bandwidth, "expected the ceiling to span the ridge point"
    points = ax["scatter"][0] if ax["scatter"] else []
    expected = [[l["flops"] / l["bytes"], l["flops"] / l["seconds"]] for l in layers]
    assert len(points) == 2 and all(math.isclose(a, b, rel_tol=1e-6) for p, e in zip(points, expected) for a, b in zip(p, e)), (
        f"expected one scatter with the layers at (flops/bytes, flops/seconds) = {expected}, got {points}")


@pytest.mark.timeout(240)  # measures the machine: seconds of CPU time, more wall time on a busy machine
@weight(1)
@number("1.12")
def test_plot_command_writes_the_png(student_process):
    """`python time_model.py roofline.png cpu --quick` runs and writes the roofline plot"""
    # runs in your submission folder (graded: in a copy of it), so `autograder check` leaves roofline.png there
    result = student_process.run(["python", "time_model.py", "roofline.png", "cpu", "--quick"], timeout_s=220)
    tail = (result.stdout[-1500:] + "\n" + result.stderr[-1500:]).strip()
    assert not result.timed_out, f"`python time_model.py roofline.png cpu --quick` did not finish in 220 s; its output:\n{tail}"
    assert result.returncode == 0, (
        f"`python time_model.py roofline.png cpu --quick` exited with code {result.returncode}; its output:\n{tail}")
    lines = [line for line in result.stdout.splitlines() if "roofline plot written to" in line]
    assert lines, f"expected the command to print where it wrote the plot ('roofline plot written to ...'); it printed:\n{tail}"
    path = lines[-1].split("written to", 1)[1].strip()
    assert path.endswith("roofline.png"), f"expected the plot at .../roofline.png (the path given), the command says {path!r}"
    header = student_process.call("a2_probes.png_header", path)
    assert header.get("exists") and header.get("png"), f"expected the command to write a PNG at {path}: {header}"
