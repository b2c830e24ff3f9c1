"""A regrade's output folder, read back: one :class:`Graded` record per submission.

Layout of an output folder (written by :mod:`autograder.staff.regrade`, :mod:`autograder.staff.merge`)::

    manifest.json                      slug, source, shard, device, and every submission of this run (who, when)
    submissions/<id>/results.json      the Gradescope results.json of that submission
    submissions/<id>/job.json          how the run went (status, seconds, slot, seed) and the honesty declarations
    grades.csv, gradebook.csv, report.html, similarity.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.errors import AutograderError

HONESTY_NODEID = "autograder::honesty"


@dataclass
class Graded:
    """One submission's outcome, as the staff tables need it."""

    id: str
    submitters: list[dict[str, str]]
    created_at: str = ""
    results: dict[str, Any] | None = None  # None: not graded (yet)
    job: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # what staff must look at: errors, missing sides

    @property
    def tests(self) -> list[dict[str, Any]]:
        """Graded tests, without the staff-only declarations entry."""
        if not self.results:
            return []
        return [t for t in self.results.get("tests", []) if t.get("extra_data", {}).get("nodeid") != HONESTY_NODEID]

    @property
    def total(self) -> float | None:
        return None if self.results is None else float(self.results.get("score", 0.0))

    @property
    def max_total(self) -> float:
        return sum(float(t.get("max_score", 0.0)) for t in self.tests)

    @property
    def honesty(self) -> str:
        return str((self.job.get("honesty") or {}).get("summary", ""))

    @property
    def status(self) -> str:
        if self.results is None:
            return "not graded"
        return str(self.job.get("status", "graded"))

    def test_key(self, test: dict[str, Any]) -> str:
        return test_key(test)


def test_key(test: dict[str, Any]) -> str:
    """A test's column name: its number and display name (unique within one results.json)."""
    return f"{test.get('number', '')} {test.get('name', '')}".strip()


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_manifest(out: Path) -> dict[str, Any]:
    manifest = read_json(out / "manifest.json")
    if manifest is None:
        raise AutograderError(f"{out}: no readable manifest.json; is this the --out folder of `autograder regrade`?")
    return manifest


def read_output(out: Path) -> tuple[dict[str, Any], list[Graded]]:
    """The manifest and every submission it lists, in id order; ungraded ones are flagged, not dropped."""
    manifest = read_manifest(out)
    graded = []
    for entry in manifest.get("submissions", []):
        folder = out / "submissions" / entry["id"]
        results = read_json(folder / "results.json")
        job = read_json(folder / "job.json") or {}
        record = Graded(id=entry["id"], submitters=entry.get("submitters", []), created_at=entry.get("created_at", ""),
                        results=results, job=job)
        record.flags += [str(f) for f in job.get("flags", [])]  # a merge's flags (missing sides)
        if results is None:
            if not record.flags:
                record.flags.append("not graded: rerun the regrade (it resumes) to grade it")
        elif any("could not be loaded: silence" in str(t.get("output", "")) for t in results.get("tests", [])):
            record.flags.append("the grader's test process went silent while loading the tests (a machine too "
                                "loaded for the per-test time limit?): regrade this submission with --force or -j 1")
        elif job.get("status") not in (None, "graded"):
            record.flags.append(f"{job.get('status')}: {job.get('error') or (results.get('extra_data') or {}).get('error', '')}"[:300])
        graded.append(record)
    return manifest, sorted(graded, key=lambda g: g.id)
