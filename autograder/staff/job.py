"""One submission of a regrade, in a process of its own: ``python -m autograder.staff.job SETTINGS.json``.

A process per submission keeps the batch safe from anything one grading run does (a grader bug, a crash, a
hang past the deadline): the scheduler in :mod:`autograder.staff.regrade` only reads the files this writes.
It writes ``results.json`` (the Gradescope document, plus the staff-only declarations entry) and ``job.json``
(how the run went, and the submission's declarations), each atomically.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from autograder.results import write_results


def failure_results(message: str, detail: str = "") -> dict[str, Any]:
    """results.json for a submission the grader could not grade: 0 points, and the reason, for staff."""
    return {"score": 0.0, "execution_time": 0.0, "tests": [], "output_format": "md",
            "output": f"## Not graded\n{message}", "extra_data": {"error": message, "detail": detail[-5000:]}}


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def run(settings: dict[str, Any]) -> int:
    from autograder.grading import grade
    from autograder.layout import CourseLayout
    from autograder.spec import load_spec
    from autograder.staff import honesty

    out = Path(settings["out"])
    submission = Path(settings["submission"])
    start = time.time()
    job: dict[str, Any] = {"id": settings["id"], "digest": settings["digest"], "slot": settings["slot"],
                           "seed": settings["seed"], "device": settings.get("device", "cpu")}
    try:
        declarations = honesty.read_declarations(submission)
        job["honesty"] = declarations.to_json()
    except Exception as exc:  # noqa: BLE001 - declarations are informational
        job["honesty"] = {"summary": "", "issues": [f"could not read declarations ({type(exc).__name__})"]}
    try:
        spec = load_spec(CourseLayout(Path(settings["course_root"])), settings["slug"])
        if not submission.is_dir():
            results = failure_results("The export lists this submission but has no files for it (nothing was "
                                      "uploaded, or Gradescope could not export it).")
            job["status"] = "no files"
        else:
            results = grade(spec, submission, seed=settings["seed"], slot=settings["slot"])
            honesty.add_to_results(results, submission)
            job["status"] = "graded"
    except Exception as exc:  # noqa: BLE001 - the batch goes on; this row says what happened
        results = failure_results(f"The grader failed on this submission: {type(exc).__name__}: {exc}",
                                  traceback.format_exc())
        job["status"] = "grader error"
        job["error"] = f"{type(exc).__name__}: {exc}"[:500]
    job["elapsed_s"] = round(time.time() - start, 3)
    write_results(results, out / "results.json")
    write_json(out / "job.json", job)
    return 0


if __name__ == "__main__":
    sys.exit(run(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
