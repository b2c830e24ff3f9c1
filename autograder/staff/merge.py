"""``autograder merge``: put the parts of a class's grading together.

- **Shards** (``regrade --shard I/N`` on N nodes): every shard of one regrade, each exactly once, become one
  output folder, row for row what an unsharded run gives.
- **CPU + GPU**: Gradescope graded on CPU and left the GPU tests *pending* (``requires("cuda")``: results.json
  lists them with 0 of 0 points and the tag ``pending-gpu``); ``regrade --device cuda`` on a GPU node ran them.
  The merge takes every test from the CPU side except the pending ones, which come from the GPU side, and
  recomputes the total. A submission present on one side only, or a pending test the GPU side lacks, is
  flagged in grades.csv and report.html, never silently scored 0 (gradebook.csv leaves its score blank).
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

from autograder.errors import AutograderError
from autograder.staff.collect import Graded, read_manifest, read_output
from autograder.staff.job import write_json
from autograder.staff.sources import load_submissions

PENDING_TAG = "pending-gpu"


def is_pending(test: dict[str, Any]) -> bool:
    return PENDING_TAG in (test.get("tags") or []) or (test.get("extra_data") or {}).get("outcome") == "pending"


def _identity(test: dict[str, Any]) -> str:
    return str((test.get("extra_data") or {}).get("nodeid") or test.get("name"))


def combine_shards(parts: list[Path], out: Path) -> dict[str, Any]:
    """Copy the parts' submissions into ``out`` under one manifest; refuse overlaps, missing or mixed shards."""
    manifests = [read_manifest(part) for part in parts]
    slugs = {m.get("slug") for m in manifests}
    if len(slugs) != 1:
        raise AutograderError(f"the parts grade different assignments ({sorted(map(str, slugs))}); merge one at a time")
    shards = [tuple(m["shard"]) if m.get("shard") else None for m in manifests]
    if any(s is not None for s in shards):
        counts = {s[1] for s in shards if s is not None}
        if None in shards or len(counts) != 1:
            raise AutograderError("mix of sharded and unsharded parts, or of different shard counts; give the N "
                                  "folders of one `regrade --shard I/N` run")
        count = counts.pop()
        have = sorted(s[0] for s in shards if s is not None)
        missing = sorted(set(range(1, count + 1)) - set(have))
        if missing or len(have) != len(set(have)):
            raise AutograderError(f"shards of {count}: missing {missing or 'none'}, given twice "
                                  f"{sorted({i for i in have if have.count(i) > 1}) or 'none'}; each shard exactly once")
    out.mkdir(parents=True, exist_ok=True)
    merged: dict[str, dict[str, Any]] = {}
    for part, manifest in zip(parts, manifests):
        for entry in manifest.get("submissions", []):
            if entry["id"] in merged:
                raise AutograderError(f"{part}: submission {entry['id']} is also in another part; shards must not overlap")
            merged[entry["id"]] = entry
            source = part / "submissions" / entry["id"]
            if source.is_dir() and part.resolve() != out.resolve():
                shutil.copytree(source, out / "submissions" / entry["id"], dirs_exist_ok=True)
    first = manifests[0]
    manifest = {"slug": first["slug"], "source": first.get("source"), "source_kind": first.get("source_kind"),
                "device": first.get("device", "cpu"), "shard": None, "seed": first.get("seed"),
                "merged_from": [str(p) for p in parts], "submissions": [merged[k] for k in sorted(merged)]}
    write_json(out / "manifest.json", manifest)
    return manifest


def cpu_side(source: Path, scratch: Path) -> dict[str, Graded]:
    """The CPU results: a regrade folder (manifest.json), or a Gradescope export's stored results."""
    if (source / "manifest.json").is_file():
        return {g.id: g for g in read_output(source)[1]}
    submissions, _ = load_submissions(source, scratch)
    side = {}
    for s in submissions:
        record = Graded(id=s.id, submitters=[vars(p) for p in s.submitters], created_at=s.created_at,
                        results=s.gradescope_results, job={"status": "graded"})
        if s.gradescope_results is None:
            record.flags.append("Gradescope has no autograder results for this submission")
        side[s.id] = record
    return side


def merge_cpu_gpu(cpu: dict[str, Graded], gpu: dict[str, Graded]) -> list[Graded]:
    """One record per submission: CPU tests, with the CPU side's pending GPU tests taken from the GPU side."""
    merged = []
    for sid in sorted(set(cpu) | set(gpu)):
        c, g = cpu.get(sid), gpu.get(sid)
        base = c or g
        assert base is not None
        record = Graded(id=sid, submitters=base.submitters or (g.submitters if g else []), created_at=base.created_at,
                        results=copy.deepcopy(base.results), job=dict(base.job), flags=list(base.flags))
        if g is not None and not record.job.get("honesty") and g.job.get("honesty"):
            record.job["honesty"] = g.job["honesty"]
        if c is None:
            record.flags.append("missing on the CPU (Gradescope) side: only the GPU regrade's results are here")
        elif g is None or g.results is None:
            pending = [t for t in c.tests if is_pending(t)]
            record.flags.append("missing on the GPU side" + (f": {len(pending)} GPU test(s) still pending" if pending else ""))
        elif record.results is not None:
            gpu_tests = {_identity(t): t for t in g.tests}
            tests = []
            for test in record.results.get("tests", []):
                if is_pending(test):
                    replacement = gpu_tests.get(_identity(test))
                    if replacement is None or is_pending(replacement):
                        record.flags.append(f"GPU result missing for test {test.get('name')}")
                    else:
                        test = copy.deepcopy(replacement)
                        test.setdefault("extra_data", {})["merged_from"] = "gpu"
                tests.append(test)
            record.results["tests"] = tests
            record.results["score"] = sum(float(t.get("score", 0.0)) for t in tests)
        merged.append(record)
    return merged


def write_merged(records: list[Graded], out: Path, manifest: dict[str, Any]) -> None:
    """Store merged records as an output folder (manifest + per-submission results.json/job.json)."""
    out.mkdir(parents=True, exist_ok=True)
    for record in records:
        folder = out / "submissions" / record.id
        folder.mkdir(parents=True, exist_ok=True)
        if record.results is not None:
            write_json(folder / "results.json", record.results)
        write_json(folder / "job.json", {**record.job, "flags": record.flags})
    known = {s["id"]: s for s in manifest.get("submissions", [])}
    manifest = {**manifest, "shard": None, "submissions": [  # who and when from the CPU (Gradescope) side
        {"folder": "", **known.get(r.id, {}), "id": r.id, "submitters": r.submitters, "created_at": r.created_at}
        for r in records]}
    write_json(out / "manifest.json", manifest)

