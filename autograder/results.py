"""Turn a :class:`RunRecord` into Gradescope's results.json, per Gradescope's results.json contract (docs/grading.md).

Invariants this module guarantees (and tests/test_grading_robustness.py, tests/test_output_escaping.py check): every collected test appears; every
test has ``status``; the top-level ``score`` equals the sum of the tests' scores; ``execution_time`` is a
number; outputs are capped; hidden tests' details are only what :mod:`autograder.feedback` allows.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
from pathlib import Path
from typing import Any

import autograder
from autograder import escape
from autograder.events import cap
from autograder.feedback import render_output
from autograder.spec import AssignmentSpec
from autograder.record import PASSED, SKIPPED, Outcome, RunRecord

SUMMARY_CAP = 20_000


def _display_name(outcome: Outcome) -> str:
    """The test's name on one line (a parametrized id may carry student data), control characters removed."""
    info = outcome.info
    if info.doc:
        return escape.one_line(info.doc, 300)
    parts = info.nodeid.split("::")[1:] or [info.function]
    return escape.one_line(" / ".join(parts), 300)


def leaderboard_only(outcome: Outcome) -> bool:
    """A test with a leaderboard column and no points: gradescope-utils' JSONTestRunner reports it on the
    leaderboard only (docs/writing-tests.md). It is still listed in ``tests`` when it did not pass, so the
    student learns why their leaderboard entry is missing."""
    return bool(outcome.info.leaderboard_column) and not outcome.info.weight and outcome.kind == PASSED


def _leaderboard_value(value: Any) -> float | int | str | None:
    """A leaderboard value as Gradescope accepts it: a finite number or a short one-line string; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else None
    return escape.one_line(value, 100) or None


def _points(outcome: Outcome) -> tuple[float, float]:
    """(score, max_score): partial credit counts even on failure, as gradescope-utils does; clamped to range."""
    weight = float(outcome.info.weight or 0.0)
    if outcome.score is not None:
        return max(0.0, min(float(outcome.score), weight)), weight
    return (weight if outcome.kind == PASSED else 0.0), weight


def test_entry(outcome: Outcome, number: str) -> dict[str, Any]:
    visibility = outcome.info.visibility or outcome.folder.visibility
    score, max_score = _points(outcome)
    entry: dict[str, Any] = {
        "name": _display_name(outcome),
        "number": outcome.info.number or number,
        "score": score,
        "max_score": max_score,
        "status": "passed" if outcome.kind == PASSED and score >= max_score else "failed",
        "visibility": visibility,
        "output": render_output(outcome, visibility),
        "output_format": "text",
        "extra_data": {"nodeid": outcome.info.nodeid, "outcome": outcome.kind, "folder": outcome.folder.name,
                       "duration_s": outcome.duration_s},
    }
    if outcome.perf:
        entry["extra_data"]["perf"] = outcome.perf  # raw samples, seeds, threads, hardware: for audits
    if outcome.info.tags:
        entry["tags"] = list(outcome.info.tags)
    if _pending_on_gpu(outcome):
        _mark_pending(entry, float(outcome.info.weight or 0.0))
    return entry


GPU_SKIP_REASON = "needs a CUDA GPU"  # the start of the runner's skip message for requires("cuda") (plugin.py)


def _pending_on_gpu(outcome: Outcome) -> bool:
    """A ``requires("cuda")`` test this GPU-less grader skipped: not a failure, it is graded later on a GPU."""
    return outcome.kind == SKIPPED and any(p.get("outcome") == "skipped" and str(p.get("message", "")).startswith(
        GPU_SKIP_REASON) for p in outcome.phases)


def _mark_pending(entry: dict[str, Any], weight: float) -> None:
    """Show it as pending: 0 of 0 points here (so Gradescope counts no loss), tagged ``pending-gpu``, and say when
    its points come. ``autograder merge`` replaces it with the GPU run's result (docs/staff.md)."""
    entry.update(score=0.0, max_score=0.0, status="passed", output=(
        f"Pending, not failed: this test needs a GPU, which Gradescope does not have. Course staff run it on a GPU "
        f"after the deadline and add its {weight:g} point(s) to your grade then."))
    entry["tags"] = sorted(set(entry.get("tags", [])) | {"pending-gpu"})
    entry["extra_data"].update(outcome="pending", pending_device="cuda", pending_points=weight)


def _sort_key(number: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.]", number))


def build_results(spec: AssignmentSpec, record: RunRecord, *, notes: list[str] | None = None,
                  submission_files: list[str] | None = None) -> dict[str, Any]:
    """The complete results.json document."""
    tests: list[dict[str, Any]] = []
    counters: dict[str, int] = {}
    folder_index = {f.name: i + 1 for i, f in enumerate(spec.test_folders)}
    taken = {o.info.number for o in record.outcomes if o.info.number}  # explicit @number values stay unique
    for outcome in record.outcomes:
        if leaderboard_only(outcome):
            continue
        group = folder_index.get(outcome.folder.name, 9)
        number = outcome.info.number
        while number is None or (number in taken and not outcome.info.number):
            counters[outcome.folder.name] = counters.get(outcome.folder.name, 0) + 1
            number = f"{group}.{counters[outcome.folder.name]}"
        tests.append(test_entry(outcome, number))
    tests.sort(key=lambda t: _sort_key(t["number"]))
    leaderboard = [
        {"name": escape.one_line(o.info.leaderboard_column, 100), "value": _leaderboard_value(o.leaderboard_value),
         "order": o.info.leaderboard_order if o.info.leaderboard_order in ("asc", "desc") else "desc"}
        for o in record.outcomes if o.info.leaderboard_column and _leaderboard_value(o.leaderboard_value) is not None
    ]
    all_notes = list(notes or []) + record.notes
    total = sum(t["score"] for t in tests)
    results: dict[str, Any] = {
        "score": total,
        "execution_time": round(record.elapsed_s, 3),
        "output": cap(summary_markdown(spec, tests, all_notes), SUMMARY_CAP),
        "output_format": "md",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "seed": record.seed,
            "autograder_version": autograder.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "children": record.children,
            "submission_files": submission_files or [],
            "notes": all_notes,
            "isolation": record.isolation,
            "diagnostics": record.diagnostics,
            "leaderboard_only_tests": [o.info.nodeid for o in record.outcomes if leaderboard_only(o)],
        },
    }
    if leaderboard:
        results["leaderboard"] = leaderboard
    return results


def summary_markdown(spec: AssignmentSpec, tests: list[dict[str, Any]], notes: list[str]) -> str:
    """Top-level summary: points per group of tests the student can see now, and what to try next.

    Tests that are not visible yet are counted only as "N more tests, shown later", so the summary never
    reveals hidden results before the instructor publishes them. Student text (test names, the first line of
    an output) goes through :func:`escape.for_markdown`; notes are Markdown whose student parts were quoted
    with :func:`escape.code` where they were written, and each is kept on one line here, so no note can start
    a heading, a list or a table of its own.
    """
    visible = [t for t in tests if t["visibility"] == "visible"]
    later = [t for t in tests if t["visibility"] != "visible"]
    lines = [f"## {spec.title}", ""]
    if notes:
        lines += [f"> **Note:** {escape.one_line(note, 2000)}" for note in notes] + [""]
    groups: dict[str, list[dict[str, Any]]] = {}
    for test in visible:
        groups.setdefault(test["extra_data"]["folder"], []).append(test)
    if groups:
        lines += ["| Tests | Passed | Points |", "|---|---|---|"]
        for name, members in groups.items():
            passed = sum(t["status"] == "passed" for t in members)
            got = sum(t["score"] for t in members)
            out_of = sum(t["max_score"] for t in members)
            lines.append(f"| {escape.for_markdown(name)} | {passed} / {len(members)} | {got:g} / {out_of:g} |")
        lines.append("")
    if later:
        lines.append(f"{len(later)} more test(s) worth {sum(t['max_score'] for t in later):g} points are graded now "
                     "and shown when grades are published.")
        lines.append("")
    failing = [t for t in visible if t["status"] == "failed"]
    if failing:
        lines.append("**What to try next**")
        for test in failing[:5]:
            first = (test.get("output") or "").strip().splitlines()
            hint = escape.for_markdown(first[0], 160) if first else "see the test's output"
            lines.append(f"- {escape.for_markdown(test['number'], 20)} *{escape.for_markdown(test['name'])}*: {hint}")
        if len(failing) > 5:
            lines.append(f"- … and {len(failing) - 5} more; start with the first one, later tests often fail for the same reason.")
        lines.append(f"- Run the public tests on your own machine: `autograder check {spec.slug}` in your project folder.")
    elif visible:
        lines.append("Every test you can see now passed.")
    return "\n".join(lines)


def _encode(results: dict[str, Any]) -> bytes:
    """results.json's bytes. A value json or UTF-8 refuses (a lone surrogate in a student's message, a NaN, an
    object) must not cost the student their grade: the document is then made encodable and encoded again."""
    try:
        return json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return json.dumps(escape.encodable(results), indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")


def write_results(results: dict[str, Any], path: Path) -> None:
    """Write atomically, so a reader never sees half a file; the bytes are built before the file is opened, so
    a value that cannot be encoded leaves no empty ``.tmp`` behind."""
    data = _encode(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
