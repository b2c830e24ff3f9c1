"""a4 graded end to end, isolated, as Gradescope will: the reference earns every point, the starter none, and a
copy of the reference with the issue's planted bugs loses exactly the tests that target them.

All planted bugs sit in different functions of ONE copy, graded once on the hidden tests (CI time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autograder.grading import grade
from autograder.layout import CourseLayout
from autograder.results_schema import validate_results
from autograder.spec import AssignmentSpec, load_spec

REPO = Path(__file__).resolve().parents[1]
SLUG = "a4_compression"
pytestmark = pytest.mark.slow

# (what the bug is, text in the reference, its replacement, the hidden test that must catch it)
PLANTED = [
    ("codec not bit-exact for NaN payloads and -0.0 (adds 0.0 to float tensors before shuffling)",
     "        payload = _byte_planes(tensor).numpy().tobytes()\n",
     "        payload = _byte_planes(tensor + 0 if tensor.is_floating_point() else tensor).numpy().tobytes()\n",
     "test_codec_special_floats_bit_exact"),
    ("quantized size leaves out the scales",
     '    size = math.ceil(q["codes"].numel() * bits / 8) + 4 * q["scale"].numel()\n',
     '    size = math.ceil(q["codes"].numel() * bits / 8)\n',
     "test_quantized_nbytes_counts_everything"),
    ("per-tensor scaling passed off as per-channel (the tensor's max repeated for every row)",
     "        scale = (rows.abs().amax(dim=1) if rows.numel() else empty) / qmax\n",
     "        scale = (rows.abs().amax().expand(rows.shape[0]) if rows.numel() else empty) / qmax\n",
     "test_outlier_per_channel_beats_per_tensor"),
    ("pruning only zeroes the weights: the zeros are stored densely, no mask",
     "        if sparsity > 0:\n            encoded = sparse_encode(tensor)\n",
     "        if sparsity > 1:\n            encoded = sparse_encode(tensor)\n",
     "test_compress_model_encodes_sparsity"),
    ("entropy in nats rather than bits",
     "    return float(-(p * torch.log2(p)).sum())\n",
     "    return float(-(p * torch.log(p)).sum())\n",
     "test_entropy_bits_random_distributions"),
]


@pytest.fixture(scope="module")
def spec() -> AssignmentSpec:
    return load_spec(CourseLayout(REPO), SLUG)


@pytest.fixture(scope="module")
def reference_results(spec: AssignmentSpec) -> dict[str, Any]:
    return grade(spec, spec.reference_dir)


def by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["extra_data"]["nodeid"]: t for t in results["tests"]}


def planted_copy(tmp_path: Path) -> Path:
    """The reference with every planted bug of PLANTED, each in its own function."""
    source = (REPO / "reference" / SLUG / "compression.py").read_text()
    for what, old, new, _ in PLANTED:
        assert source.count(old) == 1, f"test bug: the text for {what!r} is not exactly once in the reference"
        source = source.replace(old, new)
    folder = tmp_path / "planted"
    folder.mkdir()
    (folder / "compression.py").write_text(source)
    return folder


def test_reference_earns_every_point_isolated(reference_results: dict[str, Any]) -> None:
    validate_results(reference_results)
    total = sum(t["max_score"] for t in reference_results["tests"])
    failed = [(t["name"], t.get("output", "")[:300]) for t in reference_results["tests"] if t["score"] != t["max_score"]]
    assert reference_results["score"] == total > 0, failed
    assert reference_results["extra_data"]["isolation"]["mode"] == "process"
    [timed] = [t for t in reference_results["tests"] if "perf" in t["extra_data"]]
    assert "the reference" in timed["output"]
    assert reference_results.get("leaderboard"), "the trade-off test reports a leaderboard value"


def test_starter_earns_nothing_but_lists_every_test(spec: AssignmentSpec, reference_results: dict[str, Any]) -> None:
    results = grade(spec, spec.starter_dir)
    validate_results(results)
    assert results["score"] == 0
    assert set(by_name(results)) == set(by_name(reference_results))


def test_planted_bugs_are_caught(spec: AssignmentSpec, tmp_path: Path) -> None:
    results = grade(spec, planted_copy(tmp_path), folders=("hidden",))
    validate_results(results)
    tests = {nodeid.rpartition("::")[2]: t for nodeid, t in by_name(results).items()}
    for what, _, _, target in PLANTED:
        test = tests[target]
        assert test["status"] == "failed" and test["score"] < test["max_score"], f"{target} did not catch: {what}"
        assert test["output"], f"{target} failed without a message for: {what}"
    untouched = tests["test_codec_odd_tensors"]  # a bug-free path still passes: the copy is not broken wholesale
    assert untouched["status"] == "passed", untouched["output"]
