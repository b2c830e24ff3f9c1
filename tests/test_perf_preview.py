"""The students' local perf preview: the reference's recorded timings scaled by a probe, no solution code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder.layout import CourseLayout
from autograder.loading import PackageView
from autograder.perf.preview import estimate, record
from autograder.perf.sides import LocalSide
from autograder.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
SLUG = "a1_execution_modes"
TWICE = ("    with torch.inference_mode():\n        return model(x)\n",
         "    with torch.inference_mode():\n        model(x)\n        return model(x)\n")


@pytest.mark.slow
def test_preview_tells_a_slower_predict_from_the_reference(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    spec = load_spec(CourseLayout(REPO), SLUG)
    tests_dir = spec.assignment_dir / "tests"
    reference = LocalSide(PackageView(spec.reference_dir, label="reference", namespace="_preview_reference"), "ref", tests_dir)
    path = record(spec, reference, tmp_path / "perf_preview.json")
    entry = json.loads(path.read_text())["thresholds"]["predict_time"]
    assert entry["reference_s_per_call"] > 0 and entry["probe_s"] > 0
    source = (spec.reference_dir / "execution_modes.py").read_text()
    assert TWICE[0] in source
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "execution_modes.py").write_text(source.replace(*TWICE))
    declaration = spec.perf_declaration("predict_time")
    same, _ = estimate(declaration, reference, entry)
    twice, _ = estimate(declaration, LocalSide(PackageView(slow, label="slow", namespace="_preview_slow"), "slow", tests_dir), entry)
    assert 0.5 < same < 2.0, same  # the reference previewed against its own record: near 1 (noise on a busy machine)
    assert twice / same > 1.4, (same, twice)  # twice the model work reads slower, whatever the machine


@pytest.mark.slow
def test_local_preview_finds_the_input_generator_without_a_conftest(tmp_path: Path) -> None:
    """The generator module was imported by name, found only when tests/conftest.py made pytest put tests/ on
    sys.path; it is loaded by file path now."""
    pytest.importorskip("torch")
    from autograder.grading import grade
    from autograder.scaffold import create_assignment

    (tmp_path / "assignments").mkdir()
    layout = CourseLayout(tmp_path)
    create_assignment(layout, "demo")
    (layout.assignment_dir("demo") / "tests" / "conftest.py").unlink()
    for test in (layout.assignment_dir("demo") / "tests").rglob("test_*.py"):
        test.write_text(test.read_text().replace("helpers.expected_rows(x)", "torch.nn.functional.normalize(x, dim=1)")
                        .replace("from autograder import kit\n", "import torch\n\nfrom autograder import kit\n")
                        .replace(", helpers)", ")"))
    spec = load_spec(layout, "demo")
    record(spec, LocalSide(PackageView(spec.reference_dir, label="reference", namespace="_demo_reference"), "ref",
                           spec.assignment_dir / "tests"))
    results = grade(spec, spec.reference_dir, folders=("public",), reference_dir=None, local=True)
    perf = next(t for t in results["tests"] if "fast" in t["name"])
    assert perf["output"].startswith("preview: about"), perf["output"]
    # the preview's own verdict depends on how busy this machine is now; the point here is that it ran at all
    others = [t for t in results["tests"] if t is not perf]
    assert all(t["status"] == "passed" for t in others), [t["output"] for t in others]
