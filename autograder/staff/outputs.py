"""Write a regrade's (or a merge's) class outputs from its folder: grades.csv, gradebook.csv, report.html and,
when asked, similarity.html."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autograder.spec import AssignmentSpec
from autograder.staff.collect import Graded, read_output
from autograder.staff.report import write_report
from autograder.staff.tables import write_gradebook, write_grades


def write_similarity(spec: AssignmentSpec, out: Path, manifest: dict[str, Any]) -> Path | None:
    from autograder.staff import similarity

    folders = {s["id"]: Path(s["folder"]) for s in manifest.get("submissions", []) if Path(s["folder"]).is_dir()}
    if len(folders) < 2:
        return None
    starter = spec.starter_dir if spec.starter_dir.is_dir() else None
    pairs = similarity.rank_pairs(folders, list(spec.submission.files), starter)
    return similarity.write_report(pairs, out / "similarity.html", f"{spec.slug}: similar submissions")


def write_outputs(spec: AssignmentSpec, out: Path, *, with_similarity: bool = True,
                  records: list[Graded] | None = None, notes: list[str] | None = None) -> dict[str, Path]:
    manifest, read = read_output(out)
    records = read if records is None else records
    written = {"grades": write_grades(records, out / "grades.csv"),
               "gradebook": write_gradebook(records, out / "gradebook.csv", spec.slug)}
    similar = write_similarity(spec, out, manifest) if with_similarity else None
    if similar:
        written["similarity"] = similar
    shard = manifest.get("shard")
    title = f"{spec.slug}: class report" + (f" (shard {shard[0]}/{shard[1]})" if shard else "")
    written["report"] = write_report(records, out / "report.html", title, notes=notes,
                                     similarity_link=similar.name if similar else None)
    return written
