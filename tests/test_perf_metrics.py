"""FLOP and scaling metrics, measured by the real engine in two workers on tiny synthetic modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.isolation import sandbox
from autograder.perf.measure import Measurer, PerfDeclaration
from autograder.perf.pairs import worker_pair

pytestmark = pytest.mark.slow
SLOT = sandbox.default_slot()  # grading slot of the workers (see test_perf_cheats.py)

INPUTS = '''
import torch

def vector_inputs(module, size, generator, device, cache):
    # small integers: a cumulative sum and a triangular matmul then agree exactly, whatever the summation order
    return (torch.randint(-3, 4, (size,), generator=generator).float().to(device),), {}

def matrix_inputs(module, size, generator, device, cache):
    return (torch.randn(64, 64, generator=generator).to(device),), {}
'''
LINEAR = "import torch\n\ndef f(x):\n    return torch.cumsum(x, 0)\n"
QUADRATIC = ("import torch\n\ndef f(x):\n    # O(n^2): an n-by-n lower-triangular matrix times x\n"
             "    n = x.shape[0]\n    return torch.tril(torch.ones(n, n)) @ x\n")
ONE_MATMUL = "def f(x):\n    return x @ x\n"
TWO_MATMULS = "def f(x):\n    y = x @ x\n    _ = x @ x  # wasted\n    return y\n"


def module(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "synthetic.py").write_text(source)
    return folder


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic_inputs.py"
    path.write_text(INPUTS)
    return path


def test_flops_metric_counts_wasted_matmuls(tmp_path: Path, inputs: Path) -> None:
    declaration = PerfDeclaration(name="flops", metric="flops", function="synthetic.f",
                                  inputs="synthetic_inputs.matrix_inputs", full=1.1, zero=1.9)
    with worker_pair(module(tmp_path, "wasteful", TWO_MATMULS), module(tmp_path, "ref", ONE_MATMUL), [inputs],
                     slot=SLOT) as (sub, ref):
        result = Measurer(declaration, sub, ref, seed=1).measure()
    assert result.extra["ref_flops"] == 2 * 64 ** 3
    assert result.value == pytest.approx(2.0) and result.credit == 0.0, result.line


def test_scaling_metric_tells_quadratic_from_linear(tmp_path: Path, inputs: Path) -> None:
    declaration = PerfDeclaration(name="scaling", metric="scaling", function="synthetic.f",
                                  inputs="synthetic_inputs.vector_inputs", sizes=(512, 1024, 2048, 4096),
                                  full=1.3, zero=1.7, min_batch_ms=5, max_seconds=20)
    linear, quadratic = module(tmp_path, "linear", LINEAR), module(tmp_path, "quadratic", QUADRATIC)
    with worker_pair(quadratic, linear, [inputs], slot=SLOT) as (sub, ref):
        result = Measurer(declaration, sub, ref, seed=2).measure()
    assert result.value is not None and result.value > 1.6, result.line
    assert result.extra["reference_exponent"] < 1.3, result.line
    assert result.credit < 0.5 and "size^" in result.line
