"""Grade one submission: take in the student's files, run the tests under supervision, build results.json.

Taking in a submission is forgiving where a student would expect it (files zipped inside one folder are found)
and explicit where they would not (a missing or oversized file is named in the summary, with the fix). Only
the files the spec lists are copied into the graded folder; the rest are ignored and listed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import escape
from autograder.results import build_results
from autograder.spec import AssignmentSpec
from autograder.supervisor import Supervisor

IGNORED_NAMES = {"__pycache__", "__MACOSX", ".DS_Store"}
MAX_WALK_DEPTH = 32        # folders below the upload that the intake looks into
MAX_WALK_ENTRIES = 20_000  # entries it looks at in all


@dataclass
class Intake:
    """The submission as the grader will see it, and what the student should be told about it."""

    directory: Path
    files: list[str]
    notes: list[str] = field(default_factory=list)


def _files_under(root: Path) -> list[Path]:
    """Every regular file under ``root``, sorted. The upload is data, not structure: no recursion (Path.rglob
    and os.walk raise RecursionError on a 3000-deep chain before Python 3.12), no link followed, at most
    MAX_WALK_DEPTH levels and MAX_WALK_ENTRIES entries looked at."""
    found: list[Path] = []
    todo, seen = [(root, 0)], 0
    while todo:
        folder, depth = todo.pop()
        try:
            with os.scandir(folder) as listing:
                for entry in listing:
                    seen += 1
                    if seen > MAX_WALK_ENTRIES:
                        return sorted(found)
                    if entry.is_dir(follow_symlinks=False):
                        if depth < MAX_WALK_DEPTH:
                            todo.append((Path(entry.path), depth + 1))
                    elif entry.is_file(follow_symlinks=False):
                        found.append(Path(entry.path))
        except OSError:
            continue
    return sorted(found)


def _locate(submission: Path, spec: AssignmentSpec) -> tuple[Path, list[str]]:
    """The folder holding the required files: the upload itself, or the one folder inside it that has them."""
    if all((submission / name).is_file() for name in spec.submission.required):
        return submission, []
    first = Path(spec.submission.required[0]).parts
    found = [p for p in _files_under(submission) if p.parts[-len(first):] == first and len(p.parts) > len(first)]
    for candidate in sorted({p.parents[len(first) - 1] for p in found}):
        if any(part in IGNORED_NAMES for part in candidate.parts):
            continue
        if all((candidate / name).is_file() for name in spec.submission.required):
            relative = candidate.relative_to(submission)
            return candidate, [f"Your files were inside the folder {escape.code(f'{relative}/')}; they were graded from there. "
                               "Next time submit the files themselves, not a folder."]
    return submission, []


def take_in(submission: Path, spec: AssignmentSpec, into: Path, *, note_extra_files: bool = True) -> Intake:
    """Copy the spec's files from ``submission`` into ``into``; note what is missing, too large or ignored."""
    source, notes = _locate(submission, spec)
    into.mkdir(parents=True, exist_ok=True)
    taken: list[str] = []
    cap_bytes = spec.submission.max_file_kb * 1024
    for name in spec.submission.files:
        path = source / name
        if not path.is_file():
            if name in spec.submission.required:
                present = sorted(p.name for p in source.iterdir() if p.name not in IGNORED_NAMES) if source.is_dir() else []
                shown = ", ".join(escape.code(p) for p in present[:20]) + (" …" if len(present) > 20 else "")
                notes.append(f"Missing required file `{name}` (you submitted: {shown or 'nothing'}). "
                             f"Submit a file named exactly `{name}`; tests that need it score 0.")
            continue
        if path.stat().st_size > cap_bytes:
            notes.append(f"`{name}` is {path.stat().st_size / 1024:.0f} KB, over the {spec.submission.max_file_kb} KB "
                         "limit, so it was not graded. Remove large data or outputs from it.")
            continue
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, into / name)
        taken.append(name)
    if source.is_dir() and note_extra_files:
        extra = sorted(str(p.relative_to(source)) for p in _files_under(source)
                       if str(p.relative_to(source)) not in spec.submission.files
                       and not any(part in IGNORED_NAMES for part in p.parts))
        if extra:
            shown = ", ".join(escape.code(e) for e in extra[:10]) + (" …" if len(extra) > 10 else "")
            notes.append(f"Ignored file(s) not part of this assignment: {shown}.")
    return Intake(directory=into, files=taken, notes=notes)


def grade(spec: AssignmentSpec, submission: Path, *, folders: tuple[str, ...] | None = None,
          seed: int | None = None, reference_dir: Path | None = None, local: bool = False,
          isolate: bool | None = None, slot: int | None = None) -> dict[str, Any]:
    """Grade ``submission`` and return the results.json document. Never raises for problems in student code.

    ``local`` is a student's own run (`check`): no reference is available, tests needing it are skipped, and
    the student's code is imported by the test process (easy to debug). Graded runs isolate it in a worker;
    ``isolate=False`` exists only to measure what isolation costs (bench/isolation.py). ``slot`` picks the pair
    of grading accounts (``sandbox.slot_users``): parallel runs on one machine each need a slot of their own,
    and runs on the same slot wait for each other.
    """
    with tempfile.TemporaryDirectory(prefix="autograder-intake-") as scratch:
        intake = take_in(submission, spec, Path(scratch) / "submission", note_extra_files=not local)
        reference = reference_dir if local else (reference_dir or spec.reference_dir)
        supervisor = Supervisor(spec, intake.directory, reference, folders=folders, seed=seed,
                                isolate=(not local) if isolate is None else isolate, slot=slot)
        record = supervisor.run()
    return build_results(spec, record, notes=intake.notes, submission_files=intake.files)
