"""What `autograder check` prints: the truth about a local run of the public tests, for a student at midnight.

Tests that cannot run on a student's machine (peak memory is compared only on the grader; tests that need
the reference solution or a GPU) are *not run here*: counted and worded apart, never as failures, so a
perfect solution reads as perfect. Performance previews show their verdict line whether they pass or not.
Messages are printed whole below the table (wrapped, never cut mid-word), and the advice names the first
thing to fix: an import or syntax error of the student's file by its line, else the first failing test.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from autograder.escape import one_line, strip_control

NOT_RUN_HERE = "not run here"


def _not_run_here(test: dict[str, Any]) -> bool:
    return test.get("extra_data", {}).get("outcome") == "skipped"


def _lines(test: dict[str, Any]) -> list[str]:
    return strip_control(test.get("output") or "").strip().splitlines()


def _skip_reason(test: dict[str, Any]) -> str:
    first = (_lines(test) or ["it needs the grader"])[0]
    return first.removeprefix("Skipped, 0 points: ")


def first_fix(failing: list[dict[str, Any]]) -> str:
    """The one thing to do next."""
    first = failing[0]
    lines = _lines(first)
    if lines and lines[0].startswith("Your file ") and "could not be imported" in lines[0]:
        detail = lines[1] if len(lines) > 1 else lines[0]
        return (f"Your code does not import: {detail.strip()}. Fix that first: every test needs the file to import; "
                "then run this again.")
    return f"Fix the first failing test above ({one_line(first['name'], 120)}), then run this again."


def print_check(console: Console, results: dict[str, Any], title: str) -> None:
    tests = results.get("tests", [])
    ran = [t for t in tests if not _not_run_here(t)]
    elsewhere = [t for t in tests if _not_run_here(t)]
    score, out_of = sum(t["score"] for t in ran), sum(t["max_score"] for t in ran)
    heading = f"{one_line(title, 200)}: {score:g} / {out_of:g} points from the {len(ran)} tests that ran here"
    if elsewhere:
        heading += f"; {len(elsewhere)} more ({sum(t['max_score'] for t in elsewhere):g} points) run only on the grader"
    table = Table(title=Text(heading), title_justify="left")
    for column, justify in (("#", "right"), ("test", "left"), ("status", "left"), ("points", "right"), ("preview", "left")):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for test in tests:
        status = NOT_RUN_HERE if _not_run_here(test) else str(test["status"])
        style = {"passed": "green", "failed": "red"}.get(status, "yellow")
        points = "—" if status == NOT_RUN_HERE else f"{test['score']:g} / {test['max_score']:g}"
        perf = test.get("extra_data", {}).get("perf") or {}
        preview = (_lines(test) or [""])[0] if perf else ""
        table.add_row(Text(one_line(test.get("number", ""), 20)), Text(one_line(test["name"], 300)),
                      Text(status, style=style), points, Text(preview))
    console.print(table)
    for note in results.get("extra_data", {}).get("notes", []):
        console.print(Text.assemble(("note: ", "yellow"), strip_control(note)))
    failing = [t for t in ran if t["status"] == "failed"]
    for test in failing:
        console.rule(Text(one_line(f"{test.get('number', '')} {test['name']}", 200)), style="red")
        console.print(Text(strip_control(test.get("output") or "(no message)")), highlight=False)
    if elsewhere:
        console.rule(Text(NOT_RUN_HERE), style="yellow")
        for test in elsewhere:
            console.print(Text(f"{one_line(test.get('number', ''), 20)} {one_line(test['name'], 200)}: {_skip_reason(test)}"))
    if failing:
        console.print(Text(first_fix(failing)))
    else:
        console.print(Text("All public tests that ran here pass. ", style="green") + Text(
            "Hidden tests use other shapes, seeds and dtypes; make sure your code handles them too (see the handout)."))
    if elsewhere:
        console.print(Text(f"{len(elsewhere)} test(s) run only when you submit (each says why above)."))
    console.print(f"execution time {results.get('execution_time', 0):.1f} s, seed {results.get('extra_data', {}).get('seed')}",
                  markup=False, highlight=False)
