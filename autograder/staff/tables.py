"""grades.csv (everything staff need, one row per student) and gradebook.csv (just what a gradebook imports).

One row per *student*: each member of a group submission gets that submission's row. Text that came from a
student (names are Gradescope's, but declarations and messages are the student's) is neutralised against
spreadsheet formula injection: a cell starting with ``= + - @`` (or a tab/CR) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable

from autograder.staff.collect import Graded, test_key

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FIXED_COLUMNS = ["Student", "SIS User ID", "Email", "Submission ID", "Submitted at", "Total", "Max", "Status",
                 "Flags", "What happened", "Declared AI use"]
NOTE_CHARS = 300


def safe_cell(value: Any) -> Any:
    """Numbers as they are; text that a spreadsheet would run as a formula, defused."""
    if isinstance(value, (int, float)) or value is None:
        return "" if value is None else round(value, 4)
    text = str(value).replace("\x00", "")
    return "'" + text if text.startswith(FORMULA_START) else text


def test_columns(records: Iterable[Graded]) -> list[str]:
    """Every test seen, in number order (a test missing from one submission stays a column for all)."""
    seen: dict[str, tuple[int, ...]] = {}
    for record in records:
        for test in record.tests:
            number = tuple(int(p) if p.isdigit() else 0 for p in str(test.get("number", "")).split("."))
            seen.setdefault(test_key(test), number)
    return sorted(seen, key=lambda k: (seen[k], k))


def what_happened(record: Graded) -> str:
    """One line on a submission that lost points everywhere: the grader's notes (missing files...) or the first
    failing test's first line. Empty for a submission that earned something and has no notes."""
    results = record.results or {}
    notes = [str(n) for n in (results.get("extra_data") or {}).get("notes", [])]
    error = (results.get("extra_data") or {}).get("error")
    if error:
        notes.insert(0, str(error))
    if not notes and record.tests and (record.total or 0) == 0:
        failing = [t for t in record.tests if t.get("status") == "failed"]
        first = (failing[0].get("output") or "").strip().splitlines() if failing else []
        notes = first[:1]
    return " ".join(" ".join(notes).split())[:NOTE_CHARS]


def rows(records: list[Graded]) -> tuple[list[str], list[list[Any]]]:
    columns = test_columns(records)
    header = FIXED_COLUMNS + columns
    table = []
    for record in records:
        points = {test_key(t): float(t.get("score", 0.0)) for t in record.tests}
        people = record.submitters or [{"name": "", "sid": "", "email": ""}]
        for person in people:
            table.append([safe_cell(person.get("name", "")), safe_cell(person.get("sid", "")),
                          safe_cell(person.get("email", "")), safe_cell(record.id), safe_cell(record.created_at),
                          safe_cell(record.total), safe_cell(record.max_total), safe_cell(record.status),
                          safe_cell("; ".join(record.flags)), safe_cell(what_happened(record)), safe_cell(record.honesty)]
                         + [safe_cell(points.get(c)) for c in columns])
    return header, table


def write_grades(records: list[Graded], path: Path) -> Path:
    header, table = rows(records)
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        writer.writerow(header)
        writer.writerows(table)
    return path


def write_gradebook(records: list[Graded], path: Path, column: str) -> Path:
    """Canvas's import format (Student, ID, SIS User ID, SIS Login ID, Section, then one assignment column);
    Blackboard maps the same columns on import. Only graded submissions get a score; others are left blank
    (a blank is "no grade" in both, never a 0)."""
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
        for record in records:
            score = record.total if record.status == "graded" and not record.flags else None
            for person in record.submitters or []:
                writer.writerow([safe_cell(person.get("name", "")), "", safe_cell(person.get("sid", "")),
                                 safe_cell(person.get("email", "")), "", safe_cell(score)])
    return path
