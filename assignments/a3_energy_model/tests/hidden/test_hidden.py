"""A3 hidden tests: the model on random networks, batches, dtypes, modes and SRAM sizes; the meters on fake
counters that wrap several times while their polling thread runs, two sockets, dram/core/psys zones, a socket
without dram, a vanishing counter; the GPU meter without its counter; measuring work on counter-moving fakes.

Expected values come from the reference solution (the model), from the fakes' own schedules (the meters) and
from the published table. Fakes are built in the student's process by tests/fake_energy.py.
"""

from __future__ import annotations

import os

import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

from autograder import kit

KEYS = ("arithmetic_pj", "dram_pj", "sram_pj", "total_pj")


def random_sizes(rng: torch.Generator) -> list[int]:
    return [kit.randint(rng, 1, 300) for _ in range(kit.randint(rng, 2, 5))]


# ---------------------------------------------------------------- 1. the model
@weight(3)
@number("2.1")
def test_layer_energy_cases(submission, reference, rng, helpers):
    """layer_energy on random MLPs: inference and training, fp32/fp16/int8, every SRAM size"""
    student, expected_module = submission.energy, reference.energy
    for dtype in ("fp32", "fp16", "int8"):
        for mode in ("inference", "training"):
            sizes, batch = random_sizes(rng), kit.randint(rng, 1, 257)
            sram = (8 * 1024, 32 * 1024, 1024 * 1024)[kit.randint(rng, 0, 2)]
            case = f"layer_energy({sizes}, {batch}, {dtype!r}, {mode!r}, sram_bytes={sram})"
            expected = expected_module.layer_energy(sizes, batch, dtype, mode, sram)
            got = student.layer_energy(sizes, batch, dtype, mode, sram)
            assert isinstance(got, list) and len(got) == len(expected), f"{case}: expected {len(expected)} layers, got {got!r:.300}"
            for index, (theirs, ours) in enumerate(zip(got, expected)):
                for key in KEYS:
                    helpers.close(theirs.get(key), ours[key], f"{case}[{index}][{key!r}]")
    with pytest.raises(ValueError):
        student.layer_energy([4, 3], 2, "fp32", "serving")
    with pytest.raises(ValueError):
        student.layer_energy([4], 2)


@weight(2)
@number("2.2")
def test_dram_and_sram_prices(submission, reference, rng, helpers):
    """dram_energy_pj and sram_energy_pj on random byte counts (per-word and per-64-bit figures converted to bytes)"""
    student, expected_module = submission.energy, reference.energy
    for _ in range(5):
        num_bytes = kit.randint(rng, 1, 10**9)
        helpers.close(student.dram_energy_pj(num_bytes), expected_module.dram_energy_pj(num_bytes), f"dram_energy_pj({num_bytes})")
        for sram in (8 * 1024, 32 * 1024, 1024 * 1024):
            helpers.close(student.sram_energy_pj(num_bytes, sram), expected_module.sram_energy_pj(num_bytes, sram),
                          f"sram_energy_pj({num_bytes}, {sram})")


@weight(3)
@number("2.3")
def test_model_totals_per_sample_crossover(submission, reference, rng, helpers):
    """model_energy, energy_per_sample_pj and crossover_batch: totals, the per-sample curve, where arithmetic takes over"""
    student, expected_module = submission.energy, reference.energy
    for dtype in ("fp32", "fp16", "int8"):
        for mode in ("inference", "training"):
            sizes, batch = random_sizes(rng), kit.randint(rng, 1, 129)
            expected = expected_module.model_energy(sizes, batch, dtype, mode)
            got = student.model_energy(sizes, batch, dtype, mode)
            for key in ("arithmetic_pj", "dram_pj", "sram_pj", "data_movement_pj", "total_pj"):
                helpers.close(got.get(key), expected[key], f"model_energy({sizes}, {batch}, {dtype!r}, {mode!r})[{key!r}]")
            batches = sorted({1, batch, 2 * batch, 1024})
            expected_curve = expected_module.energy_per_sample_pj(sizes, batches, dtype, mode)
            got_curve = student.energy_per_sample_pj(sizes, batches, dtype, mode)
            assert isinstance(got_curve, list) and len(got_curve) == len(batches), f"expected one value per batch size, got {got_curve!r:.200}"
            for b, theirs, ours in zip(batches, got_curve, expected_curve):
                helpers.close(theirs, ours, f"energy_per_sample_pj({sizes}, [... {b} ...], {dtype!r}, {mode!r}) at batch {b}")
            expected_batch = expected_module.crossover_batch(sizes, dtype, mode, 4096)
            got_batch = student.crossover_batch(sizes, dtype, mode, 4096)
            assert got_batch == expected_batch, f"crossover_batch({sizes}, {dtype!r}, {mode!r}, max_batch=4096): expected {expected_batch}, got {got_batch!r}"
    expected = expected_module.crossover_batch([784, 512, 512, 10], "fp32")
    assert student.crossover_batch([784, 512, 512, 10], "fp32") == expected, (
        f"crossover_batch for the lecture's MLP in fp32: expected {expected}")


@weight(1)
@number("2.4")
def test_energy_delay_product(submission):
    """energy_delay_product multiplies, and refuses negative inputs"""
    student = submission.energy
    assert student.energy_delay_product(3.0, 0.5) == pytest.approx(1.5), "energy_delay_product(3.0, 0.5): expected 1.5 J*s"
    with pytest.raises(ValueError):
        student.energy_delay_product(-1.0, 1.0)


# ---------------------------------------------------------------- 2. the RAPL meter
@weight(3)
@number("2.5")
def test_rapl_several_wraps_while_polling(submission, student_process, rng, helpers):
    """RaplMeter's polling thread sees several wraps of a counter that moves while it runs"""
    student = submission.energy
    top = kit.randint(rng, 500_000, 2_000_000)
    readings = [kit.randint(rng, 0, top - 1)]
    for _ in range(8):  # each step moves less than one full range, and most cross the top
        readings.append((readings[-1] + kit.randint(rng, top // 2, top - 1)) % top)
    root = student_process.call("fake_energy.make_powercap", [helpers.zone("intel-rapl:0", "package-0", readings[0], top)])
    meter = student.RaplMeter(root, poll_interval_s=0.002)
    steps = [["intel-rapl:0", value] for value in readings[1:]]
    run = student_process.call("fake_energy.drive", meter, root, steps)
    assert run["served"], "your meter's polling thread did not poll (meter.polls did not grow) within 30 s after a counter moved"
    got = run["result"]["energy_j"]
    expected = helpers.wrapped_total_uj(readings, top) / 1e6
    wraps = sum(b < a for a, b in zip(readings, readings[1:]))
    helpers.close(got.get("package-0"), expected, f"energy_j['package-0'] over readings {readings} with {wraps} wraps at {top} uJ")


@weight(3)
@number("2.6")
def test_rapl_two_sockets_and_subzones(submission, student_process, rng, helpers):
    """RaplMeter and find_rapl_zones on two sockets with dram and core zones and a psys zone; total_cpu_energy_j"""
    student = submission.energy
    layout = [("intel-rapl:0", "package-0", None), ("intel-rapl:0:0", "core", "package-0/core"),
              ("intel-rapl:0:1", "dram", "package-0/dram"), ("intel-rapl:1", "package-1", None),
              ("intel-rapl:1:0", "dram", "package-1/dram"), ("intel-rapl:2", "psys", None)]
    tops = {d: kit.randint(rng, 10**6, 10**8) for d, _, _ in layout}
    start = {d: kit.randint(rng, 0, tops[d] - 1) for d, _, _ in layout}
    root = student_process.call("fake_energy.make_powercap", [helpers.zone(d, n, start[d], tops[d]) for d, n, _ in layout])
    domains = {d: (full or n) for d, n, full in layout}
    zones = student.find_rapl_zones(root)
    expected_zones = {domains[d]: os.path.join(root, d) for d in domains}
    assert zones == expected_zones, f"find_rapl_zones: expected {expected_zones}, got {zones!r}"

    meter = student.RaplMeter(root, poll_interval_s=None)
    meter.start()
    readings = {d: [start[d]] for d in domains}
    for _ in range(3):
        for d in domains:
            readings[d].append((readings[d][-1] + kit.randint(rng, 1, tops[d] // 2)) % tops[d])
            student_process.call("fake_energy.set_counter", root, d, readings[d][-1])
        meter.poll()
    result = meter.stop()
    expected = {domains[d]: helpers.wrapped_total_uj(readings[d], tops[d]) / 1e6 for d in domains}
    got = result["energy_j"]
    assert set(got) == set(expected), f"expected energy_j for every domain {sorted(expected)}, got {sorted(got)}"
    for domain, joules in expected.items():
        helpers.close(got[domain], joules, f"energy_j[{domain!r}] (energy_uj is in microjoules)")
    cpu = sum(expected[k] for k in ("package-0", "package-0/dram", "package-1", "package-1/dram"))
    helpers.close(student.total_cpu_energy_j(dict(expected)), cpu, "total_cpu_energy_j (packages and their dram; not core, not psys)")


@weight(2)
@number("2.7")
def test_rapl_missing_and_vanishing_domains(submission, student_process, helpers):
    """RaplMeter with a socket without dram and a counter that vanishes mid-measurement"""
    student = submission.energy
    root = student_process.call("fake_energy.make_powercap", [
        helpers.zone("intel-rapl:0", "package-0", 100), helpers.zone("intel-rapl:0:0", "dram", 100),
        helpers.zone("intel-rapl:1", "package-1", 100), {"dir": "intel-rapl:1:0", "name": "dram"}])  # no counter files
    assert sorted(student.find_rapl_zones(root)) == ["package-0", "package-0/dram", "package-1"], (
        "expected find_rapl_zones to skip a zone folder without energy_uj")
    meter = student.RaplMeter(root, poll_interval_s=None)
    meter.start()
    for zone_dir in ("intel-rapl:0", "intel-rapl:0:0", "intel-rapl:1"):
        student_process.call("fake_energy.set_counter", root, zone_dir, 2_100)
    meter.poll()
    student_process.call("fake_energy.remove_zone", root, "intel-rapl:0:0")
    for zone_dir in ("intel-rapl:0", "intel-rapl:1"):
        student_process.call("fake_energy.set_counter", root, zone_dir, 4_100)
    meter.poll()
    result = meter.stop()
    assert set(result["energy_j"]) == {"package-0", "package-1"}, (
        f"package-0/dram vanished mid-measurement: expected energy_j for package-0 and package-1 only, got {sorted(result['energy_j'])}")
    for domain in ("package-0", "package-1"):
        helpers.close(result["energy_j"][domain], 4_000 / 1e6, f"energy_j[{domain!r}]")
    lost = result.get("lost", {})
    assert set(lost) == {"package-0/dram"} and str(lost["package-0/dram"]).strip(), (
        f"expected lost == {{'package-0/dram': <why>}}, got {lost!r}")


@weight(2)
@number("2.8")
@pytest.mark.hint("RaplMeter in a `with` block, and how often its thread polls: every min(poll_interval_s, safe_poll_interval_s(range)) seconds")
def test_rapl_context_manager(submission, student_process, helpers):
    """RaplMeter as a `with` block: the thread polls, __exit__ stores the result; safe_poll_interval_s bounds the interval"""
    student = submission.energy
    # a counter that wraps in 0.02 s at 500 W: the thread must poll every safe_poll_interval_s (0.01 s), not every 60 s
    small = 10_000_000
    root = student_process.call("fake_energy.make_powercap", [helpers.zone("intel-rapl:0", "package-0", 10, small)])
    polls = student_process.call("fake_energy.polls_in_window", student.RaplMeter(root, poll_interval_s=60.0), 0.5)
    assert polls >= 5, (
        f"RaplMeter(poll_interval_s=60) on a counter of range {small:,} uJ (it can wrap every 0.02 s at 500 W): the "
        f"thread polled {polls} time(s) in 0.5 s; it must poll every min(poll_interval_s, safe_poll_interval_s(range))")
    top = 1_000_000
    root = student_process.call("fake_energy.make_powercap", [helpers.zone("intel-rapl:0", "package-0", 10, top)])
    meter = student.RaplMeter(root, poll_interval_s=0.002)
    values = [700_000, 300_000, 900_000]
    run = student_process.call("fake_energy.drive", meter, root, [["intel-rapl:0", v] for v in values], use_with=True)
    assert run["served"], "inside `with RaplMeter(...)` the polling thread did not poll within 30 s"
    result = run["result"]
    assert isinstance(result, dict), f"expected meter.result to hold stop()'s dict after the with block, got {result!r:.200}"
    helpers.close(result["energy_j"].get("package-0"), helpers.wrapped_total_uj([10] + values, top) / 1e6, "energy_j['package-0']")
    helpers.close(student.safe_poll_interval_s(262_143_999_938, 400.0), 262_143.999938 / 400.0 / 2,
                  "safe_poll_interval_s(262143999938, 400.0)")


# ---------------------------------------------------------------- 3. the GPU meter
@weight(2)
@number("2.9")
def test_gpu_meter_thread_and_ramp(submission, student_process):
    """GpuMeter: trapezoids on a ramp of power without the counter; its own thread samples; counter mode unaffected by power"""
    student = submission.energy
    fake = student_process.call("fake_energy.FakeNvml", power_mw=0, supports_counter=False)
    clock = student_process.call("fake_energy.FakeClock")
    meter = student.GpuMeter(nvml=fake, poll_interval_s=None, clock=clock)
    meter.start()
    for step in range(1, 5):
        clock.advance(0.25)
        fake.set(power_mw=step * 40_000)  # a ramp: 0, 40, 80, 120, 160 W
        meter.poll()
    result = meter.stop()
    assert result.get("energy_j") == pytest.approx(0.25 * (0 + 2 * (40 + 80 + 120) + 160) / 2), (
        f"a 0-160 W ramp sampled every 0.25 s: the trapezoids give 80 J, got {result.get('energy_j')!r}")
    assert result.get("average_power_w") == pytest.approx(80.0), f"80 J in 1 s: expected 80 W, got {result.get('average_power_w')!r}"

    fake = student_process.call("fake_energy.FakeNvml", energy_mj=1_000, power_mw=300_000)
    meter = student.GpuMeter(nvml=fake, poll_interval_s=0.001)
    meter.start()
    fake.set(energy_mj=1_000 + 2_500)
    result = meter.stop()
    assert result.get("method") == "counter" and result.get("energy_j") == pytest.approx(2.5), (
        f"counter mode: 2500 mJ moved, expected 2.5 J by the counter, got {result!r:.300}")
    assert len(meter.samples) >= 2, "expected start() and stop() to take a power sample each"


# ---------------------------------------------------------------- 4. measuring work
@weight(3)
@number("2.10")
def test_measuring_work(submission, reference, student_process, helpers):
    """energy_per_inference, compare_dtypes, batch_sweep and measured_vs_modeled on a model that moves fake counters"""
    student = submission.energy
    top = 50_000_000
    root = student_process.call("fake_energy.make_powercap", [
        helpers.zone("intel-rapl:0", "package-0", top - 20_000, top), helpers.zone("intel-rapl:1", "psys", 0, top)])
    model = student_process.call("fake_energy.MeteredModel", root, "intel-rapl:0", top, 600,
                                 {"float32": 40, "bfloat16": 20})
    x = torch.randn(16, 8)
    got = student.energy_per_inference(model, x, rapl_root=root, repeat=3)
    helpers.close(got.get("energy_j"), (600 + 40 * 16) / 16 / 1e6, "energy_per_inference energy_j per sample (batch 16)")
    assert got.get("time_s", 0) > 0, "expected time_s per sample > 0"
    seen = student_process.call("fake_energy.history", model)
    assert seen and all(not training and inference for _, training, inference, _, _ in seen), (
        "expected every forward of energy_per_inference to run in eval mode under torch.inference_mode()")

    got = student.compare_dtypes(model, x, rapl_root=root, repeat=2)
    assert set(got) == {"float32", "bfloat16"}, f"expected keys 'float32' and 'bfloat16', got {sorted(got)}"
    for dtype, per_sample in (("float32", 40), ("bfloat16", 20)):
        helpers.close(got[dtype].get("energy_j"), (600 + per_sample * 16) / 16 / 1e6, f"compare_dtypes[{dtype!r}] energy_j per sample")
    assert student_process.call("fake_energy.weight_dtype", model) == "float32", (
        "compare_dtypes must measure a copy: the caller's model was cast to another dtype")

    got = student.batch_sweep(model, x, [1, 4, 16], rapl_root=root, repeat=2)
    assert sorted(got) == [1, 4, 16], f"expected one result per batch size, got keys {sorted(got)}"
    for b in (1, 4, 16):
        helpers.close(got[b].get("energy_j"), (600 + 40 * b) / b / 1e6, f"batch_sweep[{b}] energy_j per sample")

    compared = student.measured_vs_modeled(0.002, [784, 512, 512, 10], 64)
    modeled = reference.energy.model_energy([784, 512, 512, 10], 64)["total_pj"] * 1e-12
    helpers.close(compared.get("modeled_j"), modeled, "measured_vs_modeled modeled_j")
    helpers.close(compared.get("ratio"), 0.002 / modeled, "measured_vs_modeled ratio")
    nothing = student.measured_vs_modeled(None, [784, 512, 512, 10], 64)
    assert nothing.get("ratio") is None and str(nothing.get("note", "")).strip(), (
        f"with no measurement expected ratio None and a note saying so, got {nothing!r:.300}")


@weight(0)
@pytest.mark.requires("cuda")
@number("2.11")
def test_real_gpu_meter(submission, student_process):
    """(0 points, GPU machines only) GpuMeter on the real GPU: a second of matmuls draws a plausible power"""
    pytest.importorskip("pynvml")
    meter = submission.energy.GpuMeter(0)
    meter.start()
    student_process.call("fake_energy.gpu_busy", 1.0)
    result = meter.stop()
    assert result.get("energy_j") is not None, f"a 1 s window should move the counter; got {result!r:.300}"
    power = result["energy_j"] / result["elapsed_s"]
    assert 20 <= power <= 1500, f"the GPU drew {power:.0f} W on average by your meter; expected 20-1500 W"


@weight(1)
@number("2.12")
def test_measure_function_permission_denied(submission, student_process, helpers):
    """measure_function on root-only counters: no energy, and the note names the PLATYPUS fix"""
    root = student_process.call("fake_energy.make_powercap", [helpers.zone("intel-rapl:0", "package-0", 5)])
    if not student_process.call("fake_energy.make_unreadable", root, "intel-rapl:0"):
        pytest.skip("this code runs as root here, where a mode-000 file is still readable; the grader runs it as a normal user")
    work = student_process.call("fake_energy.Bumper", root, {}, {})
    got = submission.energy.measure_function(work, rapl_root=root)
    assert got.get("energy_j") is None and work.calls == 1, f"expected the work to run once and energy_j None, got {got!r:.300}"
    assert "PLATYPUS" in str(got.get("note", "")), f"expected the note to pass on why (the PLATYPUS fix), got {got.get('note')!r}"
