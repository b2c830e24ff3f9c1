"""A3 public tests: the table, the model on the lecture's MLP, the meters on small fake counters.

Expected values are computed here from the published table (Horowitz, ISSCC 2014) and from torch's own layer
shapes and parameter counts; the meters read fake powercap trees and a fake NVML that
``tests/fake_energy.py`` builds inside your process (see tests/conftest.py for the helpers). The hidden tests
run the same functions on many more cases.
"""

from __future__ import annotations

import os

import pytest
from gradescope_utils.autograder_utils.decorators import number, weight

MLP = [784, 512, 512, 10]


# ---------------------------------------------------------------- 1. the model
@weight(1)
@number("1.1")
def test_table_and_citation(submission):
    """The energy table holds Horowitz's 45 nm numbers and cites the paper"""
    energy = submission.energy
    table = energy.OP_ENERGY_PJ
    published = {("add", "int8"): 0.03, ("add", "int32"): 0.1, ("mult", "int8"): 0.2, ("mult", "int32"): 3.1,
                 ("add", "fp16"): 0.4, ("add", "fp32"): 0.9, ("mult", "fp16"): 1.1, ("mult", "fp32"): 3.7}
    for key, value in published.items():
        assert key in table, f"expected OP_ENERGY_PJ to have the key {key!r} (operation, dtype); it has {sorted(table)}"
        assert table[key] == pytest.approx(value), f"OP_ENERGY_PJ[{key!r}]: the table says {value} pJ, got {table[key]!r}"
    sram = energy.SRAM_READ_64BIT_PJ
    assert dict(sram) == {8 * 1024: 10.0, 32 * 1024: 20.0, 1024 * 1024: 100.0}, (
        f"expected SRAM_READ_64BIT_PJ == {{8192: 10.0, 32768: 20.0, 1048576: 100.0}} (capacity in bytes -> pJ per 64-bit read), got {sram!r}")
    assert tuple(energy.DRAM_ACCESS_64BIT_PJ) == (1300.0, 2600.0), (
        f"expected DRAM_ACCESS_64BIT_PJ == (1300.0, 2600.0) (pJ per 64-bit access), got {energy.DRAM_ACCESS_64BIT_PJ!r}")
    assert energy.DRAM_WORD_32BIT_PJ == 640.0, f"expected DRAM_WORD_32BIT_PJ == 640.0, got {energy.DRAM_WORD_32BIT_PJ!r}"
    citation = str(energy.CITATION)
    for word in ("Horowitz", "ISSCC", "2014"):
        assert word in citation, f"expected CITATION to name the source (author, venue, year): {word!r} is missing from {citation!r}"


@weight(1)
@number("1.2")
def test_unit_energies(submission):
    """mac_energy_pj, dram_energy_pj and sram_energy_pj price one unit of work from the table"""
    energy = submission.energy
    for dtype, expected in (("fp32", 3.7 + 0.9), ("fp16", 1.1 + 0.4), ("int8", 0.2 + 0.1)):
        got = energy.mac_energy_pj(dtype)
        assert got == pytest.approx(expected), (
            f"mac_energy_pj({dtype!r}): expected {expected:g} pJ (a multiply plus an add; int8 accumulates in int32), got {got!r}")
    assert energy.dram_energy_pj(4) == pytest.approx(640.0), (
        f"dram_energy_pj(4): one 32-bit word costs 640 pJ, got {energy.dram_energy_pj(4)!r}")
    assert energy.dram_energy_pj(1000) == pytest.approx(160_000.0), (
        f"dram_energy_pj(1000): 1000 bytes are 250 words of 640 pJ = 160000 pJ, got {energy.dram_energy_pj(1000)!r}")
    assert energy.sram_energy_pj(64, 8 * 1024) == pytest.approx(80.0), (
        f"sram_energy_pj(64, 8 KiB): 8 reads of 64 bits at 10 pJ = 80 pJ, got {energy.sram_energy_pj(64, 8 * 1024)!r}")
    for call, args in ((energy.mac_energy_pj, ("fp64",)), (energy.sram_energy_pj, (8, 4096))):
        with pytest.raises(ValueError):
            call(*args)


@weight(3)
@number("1.3")
def test_worked_example(submission, helpers):
    """model_energy reproduces the worked example: the 784-512-512-10 MLP, batch 64, fp32"""
    energy = submission.energy
    macs, params = sum(helpers.layer_macs(MLP, 64)), sum(helpers.parameter_counts(MLP))
    got = energy.model_energy(MLP, 64, "fp32")
    assert isinstance(got, dict), f"expected model_energy to return a dict of pJ values, got {got!r:.200}"
    helpers.close(got.get("arithmetic_pj"), macs * (3.7 + 0.9), f"arithmetic_pj ({macs:,} MACs x 4.6 pJ)")
    helpers.close(got.get("dram_pj"), params * 4 * 640 / 4, f"dram_pj ({params:,} fp32 parameters read once at 640 pJ per word)")
    assert got["dram_pj"] > got["arithmetic_pj"], "at batch 64 reading the weights once must cost more than the arithmetic"
    helpers.close(got.get("data_movement_pj"), got["dram_pj"] + got.get("sram_pj", float("nan")), "data_movement_pj (dram_pj + sram_pj)")
    helpers.close(got.get("total_pj"), got["arithmetic_pj"] + got["data_movement_pj"], "total_pj (arithmetic + data movement)")


@weight(2)
@number("1.4")
def test_layer_energy_small(submission, helpers):
    """layer_energy of a small MLP's inference, layer by layer"""
    energy = submission.energy
    sizes, batch = [6, 5, 3], 4
    got = energy.layer_energy(sizes, batch, "fp16", "inference", 32 * 1024)
    assert isinstance(got, list) and len(got) == 2, f"expected one dict per Linear (2 for {sizes}), got {got!r:.300}"
    for index in range(2):
        fan_in, fan_out = sizes[index], sizes[index + 1]
        what = f"layer_energy({sizes}, {batch}, 'fp16', 'inference', 32 KiB)[{index}]"
        helpers.close(got[index].get("arithmetic_pj"), batch * fan_in * fan_out * 1.5, f"{what}['arithmetic_pj']")
        helpers.close(got[index].get("dram_pj"), (fan_in * fan_out + fan_out) * 2 * 160, f"{what}['dram_pj']")
        helpers.close(got[index].get("sram_pj"), batch * (fan_in + fan_out) * 2 * 20 / 8, f"{what}['sram_pj']")
        parts = got[index]["arithmetic_pj"] + got[index]["dram_pj"] + got[index]["sram_pj"]
        helpers.close(got[index].get("total_pj"), parts, f"{what}['total_pj']")


# ---------------------------------------------------------------- 2. the RAPL meter
@weight(2)
@number("1.5")
def test_rapl_zones_and_wrap(submission, student_process, helpers):
    """find_rapl_zones names a package and its dram zone; counter_delta_uj adds the range at a wrap"""
    energy = submission.energy
    root = student_process.call("fake_energy.make_powercap", [
        helpers.zone("intel-rapl:0", "package-0"), helpers.zone("intel-rapl:0:0", "dram")])
    got = energy.find_rapl_zones(root)
    expected = {"package-0": os.path.join(root, "intel-rapl:0"), "package-0/dram": os.path.join(root, "intel-rapl:0:0")}
    assert got == expected, f"find_rapl_zones on a tree with intel-rapl:0 (package-0) and intel-rapl:0:0 (dram): expected {expected}, got {got!r}"
    assert energy.find_rapl_zones(os.path.join(root, "nowhere")) == {}, "expected find_rapl_zones of a missing folder to be {}"
    assert energy.counter_delta_uj(100, 350, 1000) == 250, "counter_delta_uj(100, 350, 1000): expected 250"
    got = energy.counter_delta_uj(900, 50, 1000)
    assert got == 150, f"counter_delta_uj(900, 50, 1000): the counter wrapped at 1000, so expected 100 + 50 = 150, got {got!r}"


@weight(3)
@number("1.6")
def test_rapl_meter_with_polls(submission, student_process, helpers):
    """RaplMeter returns joules, elapsed time and average power, across one wrap (polled by hand)"""
    energy = submission.energy
    top = 1_000_000
    root = student_process.call("fake_energy.make_powercap", [helpers.zone("intel-rapl:0", "package-0", 400_000, top)])
    clock = student_process.call("fake_energy.FakeClock")
    meter = energy.RaplMeter(root, poll_interval_s=None, clock=clock)
    meter.start()
    readings = [400_000, 900_000, 150_000, 600_000]
    for value in readings[1:]:
        student_process.call("fake_energy.set_counter", root, "intel-rapl:0", value)
        clock.advance(0.5)
        meter.poll()
    result = meter.stop()
    expected_j = helpers.wrapped_total_uj(readings, top) / 1e6
    assert isinstance(result, dict) and "energy_j" in result, f"expected stop() to return a dict with energy_j, got {result!r:.300}"
    got = result["energy_j"]
    assert isinstance(got, dict) and set(got) == {"package-0"}, f"expected energy_j == {{'package-0': ...}}, got {got!r}"
    helpers.close(got["package-0"], expected_j, f"energy_j['package-0'] after readings {readings} (range {top} uJ; "
                  "one wrap; energy_uj counts microjoules)")
    helpers.close(result.get("elapsed_s"), 1.5, "elapsed_s (the fake clock moved 3 x 0.5 s)")
    helpers.close(result.get("average_power_w", {}).get("package-0"), expected_j / 1.5, "average_power_w['package-0']")
    assert result.get("lost") == {}, f"expected lost == {{}} (no counter vanished), got {result.get('lost')!r}"
    assert meter.polls >= 3, f"expected meter.polls to count the polls (3 by hand, plus stop's), got {meter.polls!r}"


@weight(1)
@number("1.7")
def test_rapl_unreadable_names_platypus(submission, student_process, helpers):
    """RaplMeter on an unreadable counter raises PermissionError that names the PLATYPUS fix"""
    root = student_process.call("fake_energy.make_powercap", [helpers.zone("intel-rapl:0", "package-0", 5)])
    if not student_process.call("fake_energy.make_unreadable", root, "intel-rapl:0"):
        pytest.skip("your code runs as root here, where a mode-000 file is still readable; the grader runs it as a normal user")
    with pytest.raises(PermissionError) as raised:
        submission.energy.RaplMeter(root, poll_interval_s=None).start()
    message = str(raised.value)
    assert "PLATYPUS" in message and "root" in message, (
        f"expected the PermissionError to say the counters are root-only since the PLATYPUS fix, and what to do; got {message!r}")


# ---------------------------------------------------------------- 3. the GPU meter
@weight(2)
@number("1.8")
def test_gpu_meter_counter(submission, student_process):
    """GpuMeter reads NVML's energy counter in mJ, and says so when a short window reads 0"""
    energy = submission.energy
    fake = student_process.call("fake_energy.FakeNvml", energy_mj=5_000_000, power_mw=250_000)
    clock = student_process.call("fake_energy.FakeClock")
    meter = energy.GpuMeter(nvml=fake, poll_interval_s=None, clock=clock)
    meter.start()
    fake.set(energy_mj=5_000_000 + 75_000)
    clock.advance(0.3)
    result = meter.stop()
    assert isinstance(result, dict), f"expected stop() to return a dict, got {result!r:.200}"
    assert result.get("method") == "counter", f"expected method 'counter' on a GPU with the energy counter, got {result.get('method')!r}"
    assert result.get("energy_j") == pytest.approx(75.0), f"the counter moved 75000 mJ: expected energy_j 75.0, got {result.get('energy_j')!r}"
    assert result.get("average_power_w") == pytest.approx(250.0), f"75 J in 0.3 s: expected average_power_w 250.0, got {result.get('average_power_w')!r}"

    meter = energy.GpuMeter(nvml=fake, poll_interval_s=None, clock=clock)
    meter.start()
    clock.advance(0.005)
    result = meter.stop()
    assert result.get("energy_j") is None, (
        f"the counter did not move in a 5 ms window (it updates every ~20-100 ms): expected energy_j None, not {result.get('energy_j')!r}")
    note = str(result.get("note", ""))
    assert "20" in note and "100" in note and "longer" in note, (
        f"expected the note to say the counter updates only every ~20-100 ms and to measure a longer window, got {note!r}")


@weight(2)
@number("1.9")
def test_gpu_meter_power_fallback(submission, student_process):
    """GpuMeter integrates power samples where the GPU has no energy counter"""
    energy = submission.energy
    fake = student_process.call("fake_energy.FakeNvml", power_mw=100_000, supports_counter=False)
    clock = student_process.call("fake_energy.FakeClock")
    meter = energy.GpuMeter(nvml=fake, poll_interval_s=None, clock=clock)
    meter.start()
    for watts in (100, 200, 200):
        clock.advance(1.0)
        fake.set(power_mw=watts * 1000)
        meter.poll()
    clock.advance(1.0)
    fake.set(power_mw=100_000)
    result = meter.stop()
    expected = (100 + 100) / 2 + (100 + 200) / 2 + (200 + 200) / 2 + (200 + 100) / 2  # trapezoids of 1 s
    assert result.get("method") == "power", f"expected method 'power' when the counter is not supported, got {result.get('method')!r}"
    assert result.get("energy_j") == pytest.approx(expected), (
        f"samples 100, 100, 200, 200, 100 W, 1 s apart: the trapezoidal rule gives {expected} J, got {result.get('energy_j')!r}")
    assert result.get("elapsed_s") == pytest.approx(4.0), f"expected elapsed_s 4.0 by the given clock, got {result.get('elapsed_s')!r}"
    assert student_process.call("fake_energy.counts", fake) == [1, 1], "expected one nvmlInit() at start() and one nvmlShutdown() at stop()"


# ---------------------------------------------------------------- 4. measuring work
@weight(2)
@number("1.10")
def test_measure_function(submission, student_process, helpers):
    """measure_function: energy, time and power of real calls; no counter is said plainly"""
    energy = submission.energy
    top = 10_000_000
    root = student_process.call("fake_energy.make_powercap", [helpers.zone("intel-rapl:0", "package-0", top - 1_500, top)])
    work = student_process.call("fake_energy.Bumper", root, {"intel-rapl:0": 1_000}, {"intel-rapl:0": top})
    got = energy.measure_function(work, rapl_root=root, repeat=3, poll_interval_s=None)
    assert isinstance(got, dict), f"expected a dict, got {got!r:.200}"
    assert work.calls == 3, f"expected repeat=3 to call the function 3 times, it was called {work.calls} times"
    helpers.close(got.get("energy_j"), 3_000 / 1e6, "energy_j (3 calls of 1000 uJ, across a wrap)")
    assert isinstance(got.get("time_s"), float) and got["time_s"] > 0, f"expected time_s > 0, got {got.get('time_s')!r}"
    helpers.close(got.get("average_power_w"), got["energy_j"] / got["time_s"], "average_power_w (energy_j / time_s)")

    empty = student_process.call("fake_energy.make_powercap", [])
    got = energy.measure_function(work, rapl_root=empty, repeat=2)
    assert got.get("energy_j") is None and got.get("average_power_w") is None, (
        f"with no RAPL zone there is nothing to measure: expected energy_j and average_power_w None, got {got!r:.300}")
    assert work.calls == 5 and got.get("time_s", 0) > 0, "expected the work to run (and be timed) even without a counter"
    assert "no" in str(got.get("note", "")).lower(), f"expected the note to say plainly that no energy was measured, got {got.get('note')!r}"


@weight(0)
@number("1.11")
def test_real_counters_if_any(submission, student_process):
    """(0 points) On this machine's own counters: a busy loop's energy is plausible, or the result says there is no counter"""
    busy = student_process.call("fake_energy.BusyLoop", 0.5)
    got = submission.energy.measure_function(busy, repeat=2)
    if got.get("energy_j") is None:
        assert str(got.get("note", "")).strip(), "no energy was measured here, so expected a note saying why"
        print(f"no counter here, as expected on most VMs and on Gradescope: {got.get('note')}")
        return
    power = got["energy_j"] / got["time_s"]
    assert 0.5 <= power <= 1000, f"a busy loop drew {power:.1f} W on average by your meter; expected 0.5-1000 W for a CPU package"
