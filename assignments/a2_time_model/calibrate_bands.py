"""Calibrate the bands of A2's timing tests: the reference against itself, as the hidden tests measure.

Run from the repository root, once per fresh process (process-to-process spread is what the bands must cover):

    for i in $(seq 1 20); do .venv/bin/python assignments/a2_time_model/calibrate_bands.py; done > bands.jsonl

Each run prints one JSON line: the rate ratios (student / grader, both the reference), the prediction ratios
(predicted / measured forward time) of the MLP and the CNN, and the fitted growth exponents. README.md
("How the bands were calibrated") records the spread measured on the development VM and the bands chosen.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def load(name: str, path: Path):  # noqa: ANN201 - a module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ref = load("time_model", ROOT / "reference" / "a2_time_model" / "time_model.py")
    hidden = load("a2_hidden", ROOT / "assignments" / "a2_time_model" / "tests" / "hidden" / "test_hidden.py")
    conftest = load("a2_conftest", ROOT / "assignments" / "a2_time_model" / "tests" / "conftest.py")
    start = time.perf_counter()
    rates = hidden.rates_interleaved(ref, ref, hidden.CLOCK)
    peaks, bandwidths, measured = [], [], {"MLP": [], "CNN": []}
    models = {"MLP": (conftest.example_mlp(), [256, 1024]), "CNN": (conftest.example_cnn(), [16, 16, 32, 32])}
    for _ in range(2):
        peaks.append(ref.measure_peak_flops(torch.device("cpu"), num_threads=1, clock=hidden.CLOCK)["peak"])
        bandwidths.append(ref.measure_bandwidth(torch.device("cpu"), num_threads=1, clock=hidden.CLOCK))
        for name, (model, shape) in models.items():
            measured[name].append(hidden.grader_forward_seconds(ref, model, torch.randn(*shape)))
    prediction = {name: ref.predict_forward(model, shape, max(peaks), max(bandwidths))["total"] / min(measured[name])
                  for name, (model, shape) in models.items()}
    sizes = [128, 256, 512, 1024]
    exponents = {kind: ref.fit_exponent(sizes, ref.time_vs_size(kind, sizes, torch.device("cpu"), clock=hidden.CLOCK)) for kind in ("batch", "seq_len")}
    print(json.dumps({
        "peak_ratio": max(rates["student_peak"]) / max(rates["grader_peak"]),
        "bw_ratio": max(rates["student_bw"]) / max(rates["grader_bw"]),
        "peak_gflops": max(peaks) / 1e9, "bandwidth_gbs": max(bandwidths) / 1e9,
        "prediction_ratio": prediction, "measured_ms": {k: min(v) * 1e3 for k, v in measured.items()},
        "exponents": exponents, "seconds": time.perf_counter() - start,
    }), flush=True)


if __name__ == "__main__":
    main()
