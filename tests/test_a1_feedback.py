"""a1's public tests find the bugs students make (issue: square layers, saved bytes, autograd in the by-hand
functions), run in-process on one copy of the reference carrying three planted bugs in three functions; and
charge each bug once: mlp_backward, which chains the two broken functions correctly, passes and names them."""

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


def run_public(tmp_path: Path, bugs: dict[str, str], selection: str) -> str:
    """The public tests selected by ``selection`` on a copy of the reference with ``bugs`` planted; pytest's output."""
    source = (REPO / "reference" / "a1_execution_modes" / "execution_modes.py").read_text()
    for old, new in bugs.items():
        assert old in source, f"test bug: {old!r} is not in the reference"
        source = source.replace(old, new)
    (tmp_path / "execution_modes.py").write_text(source)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "autograder.plugin", "-p", "no:cacheprovider", "-q",
                          "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(ASSIGNMENT), "--ag-submission", str(tmp_path),
                          str(ASSIGNMENT / "tests" / "public" / "test_public.py"), "-k",
                          selection, "-rP"],
                         capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    return " ".join(run.stdout.split())


@pytest.mark.slow
def test_public_tests_catch_the_planted_bugs(tmp_path: Path) -> None:
    out = run_public(tmp_path, BUGS, "linear_backward or saved_activation_bytes or relu_backward or mlp_backward")
    assert "3 failed, 1 passed" in out, out[-3000:]
    # one bug, one charge: mlp_backward chains the (wrong) linear_backward and relu_backward correctly
    assert "because linear_backward and relu_backward are wrong" in out
    assert "grad_weight (a square layer, in == out == 4) has wrong values" in out
    assert "saved_tensors_hooks saw 462,848 bytes, got 262,144" in out
    assert "relu_backward must derive its gradients by hand" in out and "backward(...)" in out


@pytest.mark.slow
def test_a_wrong_chain_is_still_charged_beside_a_wrong_part(tmp_path: Path) -> None:
    """The excuse covers only a correct chain: an mlp_backward that skips ReLU's gradient fails even though
    linear_backward is wrong too, with the autograd comparison's message, not the excuse."""
    square = next(iter(BUGS.items()))
    skip_relu = ("                grad = relu_backward(grad, inputs[index])\n", "                grad = grad\n")
    out = run_public(tmp_path, dict([square, skip_relu]), "linear_backward or mlp_backward")
    assert "2 failed" in out, out[-3000:]
    assert "Not charged here" not in out and "has wrong values" in out.split("test_mlp_backward")[-1]
