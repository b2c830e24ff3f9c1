"""`autograder regrade` end to end on a synthetic class (tests/data/staff/make_class.py, the toy course).

One Gradescope-style export zip of 11 submissions (honest, partial, group, AI declarations, starter, broken,
two attacks, a disguised copy, names a spreadsheet or a browser would run) plus one listed without files is
graded with -j 2; the class outputs are checked against what was planted; a rerun resumes (grades nothing);
--compare after two planted edits lists exactly those two; three shards merged equal the single run.
The full 40-submission class is the same code with more rows (docs/staff.md gives its timing).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from autograder.layout import CourseLayout
from autograder.spec import load_spec
from autograder.staff.compare import compare_folders
from autograder.staff.merge import combine_shards
from autograder.staff.outputs import write_outputs
from autograder.staff.regrade import RegradeOptions, regrade

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
SUBSET = {"submission_1000", "submission_1002", "submission_1003", "submission_1009", "submission_1012",
          "submission_1013", "submission_2000", "submission_3000", "submission_4000", "submission_4001",
          "submission_5000"}
SHARDED = {"submission_1007", "submission_2001", "submission_3002"}  # one per shard
FIRST_SLOT = 31  # away from the slot tests' and interactive runs' slots


def _make_class() -> Any:
    spec = importlib.util.spec_from_file_location("make_class", REPO / "tests" / "data" / "staff" / "make_class.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("staff")
    mod = _make_class()
    course = mod.make_course(base / "course")
    export = base / "export" / "assignment_77_export"
    planted = mod.make_class(export, SUBSET)
    with (export / "submission_metadata.yml").open("a", encoding="utf-8") as metadata:  # listed, no files
        metadata.write("submission_9999:\n  :submitters:\n  - :name: 'No Files'\n    :sid: '99999'\n    :email: 'n@uni.edu'\n")
    archive = base / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(export.parent.rglob("*")):
            zf.write(path, path.relative_to(export.parent))
    spec = load_spec(CourseLayout(course), "toy")
    out = base / "run1"
    run = regrade(spec, archive, out, RegradeOptions(jobs=2, first_slot=FIRST_SLOT))
    write_outputs(spec, out)
    return {"spec": spec, "out": out, "run": run, "planted": planted, "archive": archive, "base": base,
            "export": export}


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "grades.csv").open(newline="", encoding="utf-8") as source:
        return list(csv.DictReader(source))


def test_every_submission_gets_a_row_and_the_planted_total(world: dict[str, Any]) -> None:
    rows = _rows(world["out"])
    by_id: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_id.setdefault(row["Submission ID"], []).append(row)
    assert world["run"].total == len(SUBSET) + 1
    for sid, info in world["planted"]["submissions"].items():
        assert float(by_id[sid][0]["Total"]) == info["expected"], (sid, info["kind"], by_id[sid][0]["What happened"])
        assert len(by_id[sid]) == len(info["people"]), sid  # every group member gets the row
        assert {r["SIS User ID"].lstrip("'") for r in by_id[sid]} == {p[1] for p in info["people"]}
    assert by_id["submission_9999"][0]["Status"] == "no files" and by_id["submission_9999"][0]["Flags"]
    assert float(by_id["submission_1009"][0]["1.3 add() on four cases, one point each"]) == 3.0  # one case of four wrong


def test_text_from_submissions_cannot_run_as_a_formula(world: dict[str, Any]) -> None:
    row = next(r for r in _rows(world["out"]) if r["Submission ID"] == "submission_1012")
    assert row["Student"].startswith("'=") and row["SIS User ID"] == "'=1+1"
    gradebook = (world["out"] / "gradebook.csv").read_text(encoding="utf-8")
    assert "\n=" not in gradebook and ",=" not in gradebook


def test_declarations_reach_the_csv_and_never_the_score(world: dict[str, Any]) -> None:
    rows = {r["Submission ID"]: r for r in _rows(world["out"])}
    assert rows["submission_1003"]["Declared AI use"].startswith("AI: ChatGPT in toy.py (transcript")
    assert rows["submission_1003"]["Total"] == "15.0"
    results = json.loads((world["out"] / "submissions" / "submission_1003" / "results.json").read_text())
    staff = [t for t in results["tests"] if t["extra_data"]["nodeid"] == "autograder::honesty"]
    assert len(staff) == 1 and staff[0]["visibility"] == "hidden" and staff[0]["max_score"] == 0
    assert "ChatGPT" in staff[0]["output"]


def test_report_opens_in_a_headless_browser_with_every_image(world: dict[str, Any], tmp_path: Path) -> None:
    browser = shutil.which("chromium-headless-shell") or shutil.which("chromium") or shutil.which("google-chrome")
    report = (world["out"] / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in report and "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", report)  # nothing to fetch: viewable offline
    assert "submission_9999" in report  # flagged under "Needs a look"
    if browser is None:
        pytest.skip("no headless browser here (apt-get install chromium-headless-shell)")
    probe = ("<script>window.addEventListener('load', function () { var all = Array.prototype.slice.call(document.images);"
             " var ok = all.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;"
             " var out = document.createElement('pre'); out.textContent = 'IMAGES ' + ok + '/' + all.length;"
             " document.body.appendChild(out); });</script>")
    page = tmp_path / "probe.html"
    page.write_text(report.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = subprocess.run([browser, "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    images = report.count("<img ")
    assert images >= 2 and f"IMAGES {images}/{images}" in dom, dom[-500:]


def test_rerun_resumes_and_compare_shows_exactly_the_planted_changes(world: dict[str, Any]) -> None:
    spec, base = world["spec"], world["base"]
    again = regrade(spec, world["archive"], world["out"], RegradeOptions(jobs=2, first_slot=FIRST_SLOT))
    assert again.graded == [] and len(again.skipped) == len(SUBSET) + 1
    changed = base / "changed"
    shutil.copytree(world["export"].parent, changed)
    root = changed / "assignment_77_export"
    honest = root / "submission_1000" / "toy.py"
    honest.write_text(honest.read_text().replace("return a * b", "return a * b * 1 + (a == 4)"))  # breaks mul on 4
    starter = root / "submission_2000" / "toy.py"
    starter.write_text(starter.read_text().replace('raise NotImplementedError("add")', "return a + b"))
    out2 = base / "run2"
    shutil.copytree(world["out"], out2)  # the resumed folder: only changed submissions are graded again
    run = regrade(spec, changed, out2, RegradeOptions(jobs=2, first_slot=FIRST_SLOT))
    assert sorted(run.graded) == ["submission_1000", "submission_2000"]
    changes = {c.id: c for c in compare_folders(world["out"], out2)}
    assert sorted(changes) == ["submission_1000", "submission_2000"]
    assert [name for name, _, _ in changes["submission_1000"].tests] == ["1.2 mul() matches the reference"]
    assert changes["submission_2000"].before == 0 and changes["submission_2000"].after > 0
    assert {name for name, _, _ in changes["submission_2000"].tests} >= {"1.1 add() adds two numbers"}


def test_three_shards_merged_equal_the_single_run(world: dict[str, Any]) -> None:
    spec, base = world["spec"], world["base"]
    source = base / "sharded"
    _make_class().make_class(source, SHARDED)
    single = base / "single"
    regrade(spec, source, single, RegradeOptions(jobs=2, first_slot=FIRST_SLOT))
    write_outputs(spec, single, with_similarity=False)
    parts = []
    for index in (1, 2, 3):
        part = base / f"shard{index}"
        regrade(spec, source, part, RegradeOptions(jobs=2, shard=(index, 3), first_slot=FIRST_SLOT))
        parts.append(part)
    ids = [sorted(s["id"] for s in json.loads((p / "manifest.json").read_text())["submissions"]) for p in parts]
    assert sorted(sum(ids, [])) == sorted(SHARDED) and all(ids)  # disjoint, complete, none empty
    merged = base / "merged"
    combine_shards(parts, merged)
    write_outputs(spec, merged, with_similarity=False)
    rows = _rows(merged)
    assert rows == _rows(single)  # row for row, every column
    partial = next(r for r in rows if r["Submission ID"] == "submission_1007")  # mul wrong: that test 0, others full
    assert float(partial["1.2 mul() matches the reference"]) == 0.0 and float(partial["1.1 add() adds two numbers"]) == 2.0
    with pytest.raises(Exception, match="missing \\[2\\]"):
        combine_shards([parts[0], parts[2]], base / "incomplete")
