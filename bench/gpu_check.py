"""`make gpu-check`: on a machine with a GPU, grade a1's public tests (perf included) on CUDA and report.

Checks: CUDA tensors cross the worker channel and come back on CUDA; the perf tests measured on the GPU (their
extra_data says device cuda, with the GPU and driver in the fingerprint); the reference earns full marks.
Exits non-zero when any check fails, or at once when there is no GPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.grading import grade  # noqa: E402
from autograder.isolation import codec  # noqa: E402
from autograder.layout import CourseLayout  # noqa: E402
from autograder.spec import load_spec  # noqa: E402


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA device here; nothing to check")
        return 2
    print(f"gpu-check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    x = torch.randn(64, 64, device="cuda").t()
    chunks = codec.pack({"x": x})
    data = b"".join(bytes(c) for c in chunks)
    back = codec.unpack(data[:codec.FRAME.size], bytearray(data[codec.FRAME.size:]), lambda n: n)["x"]
    ok = back.is_cuda and torch.equal(back, x)
    print(f"  codec round trip of a CUDA view: {'ok' if ok else 'FAILED'}")
    spec = load_spec(CourseLayout(REPO), "a1_execution_modes")
    results = grade(spec, spec.reference_dir, folders=("public",))
    for test in results["tests"]:
        perf = test["extra_data"].get("perf")
        if perf:
            print(f"  {test['name']}: device {perf.get('device')}, {test['score']:g}/{test['max_score']:g}\n    {test['output'].splitlines()[0]}")
            ok &= perf.get("device") == "cuda"
    total = sum(t["max_score"] for t in results["tests"])
    print(f"  reference: {results['score']:g} / {total:g}")
    ok &= results["score"] == total
    print("gpu-check:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
