"""a1's public tests find the bugs students make (issue: square layers, saved bytes, autograd in the by-hand
functions), run in-process on one copy of the reference carrying three planted bugs in three functions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = REPO / "assignments" / "a1_execution_modes"
BUGS = {
    # grad_weight of the transposed product: same shape only for a square layer (the old hint said shapes decide)
    "    grad_weight = grad_output.T @ x\n":
        "    grad_weight = grad_output.T @ x if x.shape[1] != grad_output.shape[1] else x.T @ grad_output\n",
    # the input batch forgotten in the bytes kept for backward
    "    kept_elements = batch_size * (layer_sizes[0] + sum(layer_sizes[1:-1]))\n":
        "    kept_elements = batch_size * sum(layer_sizes[1:-1])\n",
    # autograd inside a function that must be derived by hand
    "    return grad_output * (x > 0).to(grad_output.dtype)\n":
        "    with torch.enable_grad():\n        leaf = x.detach().requires_grad_(True)\n        torch.relu(leaf).backward(grad_output)\n"
        "    return leaf.grad\n",
}


@pytest.mark.slow
def test_public_tests_catch_the_planted_bugs(tmp_path: Path) -> None:
    source = (REPO / "reference" / "a1_execution_modes" / "execution_modes.py").read_text()
    for old, new in BUGS.items():
        assert old in source, f"test bug: {old!r} is not in the reference"
        source = source.replace(old, new)
    (tmp_path / "execution_modes.py").write_text(source)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "autograder.plugin", "-p", "no:cacheprovider", "-q",
                          "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(ASSIGNMENT), "--ag-submission", str(tmp_path),
                          str(ASSIGNMENT / "tests" / "public" / "test_public.py"), "-k",
                          "linear_backward or saved_activation_bytes or relu_backward"],
                         capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    out = " ".join(run.stdout.split())
    assert "3 failed" in out, out[-3000:]
    assert "grad_weight (a square layer, in == out == 4) has wrong values" in out
    assert "saved_tensors_hooks saw 462,848 bytes, got 262,144" in out
    assert "relu_backward must derive its gradients by hand" in out and "backward(...)" in out
