"""Are a1's time verdicts the same in every run inside Gradescope's smallest container? (issue 8, "10 out of 10")

Builds a1's autograder zip once, then grades, ``--runs`` times each and alternating, the reference and a copy whose
``predict`` runs the model twice, each in a fresh root laid out like ``/autograder``, with ``run_autograder``
inside a simulated container (:mod:`autograder.envelope`: CPU quota, memory limit, Docker's capabilities and
its refusal of new namespaces). It prints, per run, the score, the time tests' points and ratios, the peak
memory and the wall time, then the two verdicts the issue asks for:

- the reference keeps every time point in every run;
- the doubled ``predict`` loses at least 90 % of ``predict_time``'s points in every run.

    python bench/container_verdicts.py --runs 10 --cpus 0.5 --memory-mb 768 [--json results/verdicts.json]

Needs root and cgroup v1 (the envelope says why when it cannot run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # gradescope_root: the zip unpacked as Gradescope does

from gradescope_root import grade_in_envelope  # noqa: E402

from autograder.envelope import Envelope, unavailable  # noqa: E402
from autograder.layout import CourseLayout  # noqa: E402
from autograder.packaging import build_autograder_zip  # noqa: E402
from autograder.spec import load_spec  # noqa: E402

SLUG, MODULE_FILE = "a1_execution_modes", "execution_modes.py"
HONEST = "    model.eval()\n    with torch.inference_mode():\n        return model(x)\n"
TWICE = "    model.eval()\n    with torch.inference_mode():\n        model(x)\n        return model(x)\n"
TIME_TESTS = ("predict_time", "sgd_step_time")


def grade_once(archive: Path, source: str, envelope: Envelope, workspace: Path, timeout_s: float) -> dict[str, Any]:
    """One grade in a fresh /autograder-like root; the results plus what the envelope saw."""
    root, run = grade_in_envelope(archive, {MODULE_FILE: source}, workspace, envelope, timeout_s=timeout_s,
                                  name="verdict")
    try:
        path = root / "results" / "results.json"
        results = json.loads(path.read_text()) if path.is_file() else {"score": None, "tests": []}
        perf = {}
        for test in results["tests"]:
            line = (test.get("extra_data") or {}).get("perf")
            if line:
                perf[line.get("name", test["name"])] = {"score": test["score"], "max": test["max_score"],
                                                        "value": line.get("value"), "verdict": line.get("verdict")}
        return {"score": results.get("score"), "max": sum(t.get("max_score", 0) for t in results["tests"]),
                "perf": perf, "envelope": run.to_json()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cpus", type=float, default=0.5)
    parser.add_argument("--memory-mb", type=int, default=768)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if reason := unavailable():
        print(f"cannot simulate the container here: {reason}")
        return 2
    layout = CourseLayout(REPO)
    spec = load_spec(layout, SLUG)
    reference = (spec.reference_dir / MODULE_FILE).read_text()
    assert HONEST in reference, "bench out of date: the reference's predict changed"
    sources = {"reference": reference, "predict 2x": reference.replace(HONEST, TWICE)}
    envelope = Envelope(cpus=args.cpus, memory_mb=args.memory_mb, docker_caps=True)
    workspace = Path(tempfile.mkdtemp(prefix="autograder-verdicts-"))
    workspace.chmod(0o755)
    rows: list[dict[str, Any]] = []
    try:
        archive = build_autograder_zip(layout, spec, dest=workspace / "autograder.zip")
        for run in range(1, args.runs + 1):
            for name, source in sources.items():
                started = time.time()
                row = {"run": run, "variant": name,
                       **grade_once(archive, source, envelope, workspace, 3 * spec.limits.gradescope_timeout_s)}
                rows.append(row)
                times = "  ".join(f"{t} {row['perf'].get(t, {}).get('score')}/{row['perf'].get(t, {}).get('max')}"
                                  f" ({row['perf'].get(t, {}).get('value') or float('nan'):.2f}x)" for t in TIME_TESTS)
                print(f"run {run:2d} {name:10s} score {row['score']}/{row['max']}  {times}  "
                      f"peak {row['envelope']['peak_mb']:.0f} MB  {time.time() - started:.0f} s", flush=True)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    ref = [r for r in rows if r["variant"] == "reference"]
    twice = [r for r in rows if r["variant"] == "predict 2x"]
    kept = sum(all(r["perf"].get(t, {}).get("score") == r["perf"].get(t, {}).get("max") for t in TIME_TESTS) for r in ref)
    lost = sum((r["perf"].get("predict_time", {}).get("score") or 0) <= 0.1 * r["perf"]["predict_time"]["max"]
               for r in twice if "predict_time" in r["perf"])
    print(f"\n{args.cpus} CPU / {args.memory_mb} MB, Docker's capabilities:")
    print(f"  reference kept every time point: {kept}/{len(ref)}")
    print(f"  predict 2x lost >= 90 % of predict_time's points: {lost}/{len(twice)}")
    print(f"  peak memory {max(r['envelope']['peak_mb'] for r in rows):.0f} MB; grade time "
          f"{min(r['envelope']['wall_s'] for r in rows):.0f}-{max(r['envelope']['wall_s'] for r in rows):.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if kept == len(ref) and lost == len(twice) else 1


if __name__ == "__main__":
    sys.exit(main())
