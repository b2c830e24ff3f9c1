"""CPU + GPU merge with a simulated GPU side, pending GPU tests in results.json, and reading Gradescope exports.

No grading runs here: the CPU side is a Gradescope export whose submission_metadata.yml carries results.json
documents (as Gradescope stores them), the GPU side a regrade output folder written by hand.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from autograder.errors import AutograderError
from autograder.metadata import TestInfo as Info
from autograder.results import build_results
from autograder.spec import TestFolder as Folder
from autograder.staff.collect import read_output
from autograder.staff.merge import cpu_side, merge_cpu_gpu, write_merged
from autograder.staff.sources import load_submissions, shard
from autograder.staff.tables import write_gradebook, write_grades
from autograder.record import PASSED, SKIPPED, Outcome, RunRecord


def _test(nodeid: str, score: float, max_score: float, *, pending: bool = False) -> dict[str, Any]:
    test = {"name": nodeid.split("::")[-1], "number": "1." + nodeid[-1], "score": score, "max_score": max_score,
            "status": "passed" if score >= max_score else "failed", "visibility": "visible", "output": "",
            "extra_data": {"nodeid": nodeid, "outcome": "pending" if pending else "passed"}}
    if pending:
        test["tags"] = ["pending-gpu"]
    return test


def _results(*tests: dict[str, Any]) -> dict[str, Any]:
    return {"score": sum(t["score"] for t in tests), "tests": list(tests)}


CPU_TESTS = lambda cpu_points: _results(_test("t.py::test_1", cpu_points, 5), _test("t.py::test_2", 0, 0, pending=True))  # noqa: E731


def _export(folder: Path, results: dict[str, dict[str, Any] | None]) -> Path:
    """A Gradescope export: submission folders plus submission_metadata.yml, with Ruby-tagged results."""
    folder.mkdir(parents=True)
    lines = []
    for n, (sid, doc) in enumerate(sorted(results.items())):
        (folder / sid).mkdir()
        (folder / sid / "toy.py").write_text("def add(a, b):\n    return a + b\n")
        lines.append(f"{sid}:\n  :submitters:\n  - :name: Student {n}\n    :sid: '{n}'\n    :email: s{n}@x.edu\n"
                     f"  :created_at: 2026-11-20 10:00:00.000000000 -08:00\n  :score: {doc['score'] if doc else 0.0}\n")
        if doc is not None:
            lines.append("  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
                         + "".join(f"    {line}\n" for line in json.dumps(doc).splitlines()))
    (folder / "submission_metadata.yml").write_text("".join(lines))
    return folder


def _gpu_side(folder: Path, results: dict[str, dict[str, Any]]) -> Path:
    """A GPU regrade's output folder, as `regrade --device cuda` writes it."""
    folder.mkdir(parents=True)
    for sid, doc in results.items():
        (folder / "submissions" / sid).mkdir(parents=True)
        (folder / "submissions" / sid / "results.json").write_text(json.dumps(doc))
        (folder / "submissions" / sid / "job.json").write_text(json.dumps({"status": "graded"}))
    (folder / "manifest.json").write_text(json.dumps({"slug": "toy", "device": "cuda", "shard": None, "submissions": [
        {"id": sid, "folder": "", "submitters": [{"name": sid, "sid": sid, "email": ""}]} for sid in results]}))
    return folder


def test_merge_takes_pending_tests_from_the_gpu_and_flags_missing_sides(tmp_path: Path) -> None:
    export = _export(tmp_path / "export", {"submission_1": CPU_TESTS(5), "submission_2": CPU_TESTS(3),
                                           "submission_3": CPU_TESTS(5), "submission_4": None})
    gpu = _gpu_side(tmp_path / "gpu", {
        "submission_1": _results(_test("t.py::test_1", 5, 5), _test("t.py::test_2", 4, 4)),
        "submission_2": _results(_test("t.py::test_1", 3, 5), _test("t.py::test_2", 0, 4)),
        "submission_5": _results(_test("t.py::test_1", 5, 5), _test("t.py::test_2", 4, 4)),  # not on Gradescope
    })
    merged = merge_cpu_gpu(cpu_side(export, tmp_path / "scratch"), {g.id: g for g in read_output(gpu)[1]})
    by_id = {r.id: r for r in merged}
    assert by_id["submission_1"].total == 9 and not by_id["submission_1"].flags
    assert by_id["submission_2"].total == 3 and not by_id["submission_2"].flags  # GPU test failed: 0 of 4, not pending
    assert by_id["submission_3"].total == 5 and "missing on the GPU side: 1 GPU test(s) still pending" in by_id["submission_3"].flags
    assert by_id["submission_4"].flags and by_id["submission_4"].results is None  # no Gradescope results: flagged
    assert any("missing on the CPU" in f for f in by_id["submission_5"].flags)
    out = tmp_path / "merged"
    write_merged(merged, out, json.loads((gpu / "manifest.json").read_text()))
    _, records = read_output(out)
    write_grades(records, out / "grades.csv")
    write_gradebook(records, out / "gradebook.csv", "toy")
    rows = {r["Submission ID"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert rows["submission_3"]["Flags"].startswith("missing on the GPU side") and rows["submission_3"]["Total"] == "5.0"
    book = {r["SIS User ID"]: r["toy"] for r in csv.DictReader((out / "gradebook.csv").open())}
    assert book["0"] == "9.0" and book["2"] == "" and book["3"] == ""  # flagged: blank (no grade), never 0


def _outcome(kind: str, message: str = "", weight: float = 3.0) -> Outcome:
    info = Info(nodeid=f"tests/public/test_x.py::test_{kind}", file="tests/public/test_x.py", function="f", weight=weight)
    folder = Folder(name="public", path=Path("tests/public"), visibility="visible", hide_errors=None)
    phases = [{"when": "setup", "outcome": "skipped", "message": message}] if kind == SKIPPED else []
    return Outcome(info=info, folder=folder, kind=kind, phases=phases)


def test_a_skipped_gpu_test_is_pending_on_gradescope_not_failed(toy_spec: Any) -> None:
    record = RunRecord(outcomes=[_outcome(PASSED), _outcome(SKIPPED, "needs a CUDA GPU; this grader has none, so staff "
                                                                      "grade it on a GPU machine")], seed=1, elapsed_s=1.0, children=1)
    results = build_results(toy_spec, record)
    pending = next(t for t in results["tests"] if t["extra_data"]["nodeid"].endswith("test_skipped"))
    assert pending["status"] == "passed" and pending["score"] == 0 and pending["max_score"] == 0
    assert "pending-gpu" in pending["tags"] and pending["extra_data"]["pending_points"] == 3.0
    assert "after the deadline" in pending["output"] and "GPU" in pending["output"]
    other = build_results(toy_spec, RunRecord(outcomes=[_outcome(SKIPPED, "some other reason")], seed=1, elapsed_s=1.0,
                                              children=1))["tests"][0]
    assert other["status"] == "failed" and other["max_score"] == 3.0  # any other skip still costs its points


def test_export_zip_with_a_wrapper_folder_and_unlisted_or_missing_submissions(tmp_path: Path) -> None:
    export = _export(tmp_path / "assignment_1_export", {"submission_1": CPU_TESTS(5), "submission_2": None})
    (export / "submission_7").mkdir()  # on disk, not in the metadata: still graded
    (export / "submission_metadata.yml").write_text((export / "submission_metadata.yml").read_text()
                                                    + "submission_8:\n  :submitters: []\n")  # listed, no folder
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(export.rglob("*")):
            zf.write(path, path.relative_to(tmp_path))
    submissions, kind = load_submissions(archive, tmp_path / "unpacked")
    assert kind == "gradescope export"
    assert [s.id for s in submissions] == ["submission_1", "submission_2", "submission_7", "submission_8"]
    first = submissions[0]
    assert first.submitters[0].sid == "0" and first.gradescope_results and first.gradescope_results["score"] == 5
    assert not submissions[3].folder.is_dir()
    assert [s.id for s in shard(submissions, 2, 3)] == ["submission_2"]


def test_bad_sources_get_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "submission_metadata.yml").write_text(":\n  - [unclosed")
    with pytest.raises(AutograderError, match="submission_metadata.yml"):
        load_submissions(tmp_path / "bad", tmp_path / "x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AutograderError, match="no submissions found"):
        load_submissions(tmp_path / "empty", tmp_path / "y")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(AutograderError, match="outside"):
        load_submissions(evil, tmp_path / "z")


def test_parallel_jobs_get_disjoint_cpus_when_there_are_perf_tests() -> None:
    import os

    from autograder.staff.regrade import cpu_groups, submission_seed

    cpus = sorted(os.sched_getaffinity(0))
    groups = cpu_groups(len(cpus), True)
    assert all(groups) and sum(len(g) for g in groups) == len(cpus)
    assert len(set().union(*groups)) == len(cpus)  # disjoint: no two jobs share a CPU
    with pytest.raises(AutograderError, match="CPUs of its own"):
        cpu_groups(len(cpus) + 1, True)
    assert cpu_groups(len(cpus) + 3, False) == [None] * (len(cpus) + 3)  # no perf tests: nothing pinned
    assert submission_seed(0, "submission_1") == submission_seed(0, "submission_1") != submission_seed(1, "submission_1")


def test_report_has_a_perf_distribution_per_perf_check(tmp_path: Path) -> None:
    from autograder.staff.collect import Graded
    from autograder.staff.report import write_report

    def graded(sid: str, ratio: float) -> Graded:
        perf = _test("t.py::test_3", 3 if ratio < 1.25 else 0, 3)
        perf["extra_data"]["perf"] = {"name": "predict_time", "metric": "time", "value": ratio, "credit": 1.0}
        return Graded(id=sid, submitters=[{"name": sid, "sid": sid, "email": ""}],
                      results={**_results(_test("t.py::test_1", 5, 5), perf), "execution_time": 10.0},
                      job={"status": "graded", "honesty": {"summary": "AI: ChatGPT in x.py"}})

    records = [graded(f"s{i}", 0.9 + 0.1 * i) for i in range(6)]
    text = write_report(records, tmp_path / "report.html", "a1").read_text()
    assert "<h3>predict_time</h3>" in text and "median 1.150" in text and text.count("<img ") == 3
    assert "AI: ChatGPT in x.py" in text
