"""Rich terminal summaries of a results.json document, for TAs (grade, verify) and students (check)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

STATUS_STYLE = {"passed": "[green]passed[/]", "failed": "[red]failed[/]"}


def totals(results: dict[str, Any]) -> tuple[float, float]:
    tests = results.get("tests", [])
    return sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)


def results_table(results: dict[str, Any], title: str) -> Table:
    score, max_score = totals(results)
    table = Table(title=f"{title}: {score:g} / {max_score:g} points", title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("test")
    table.add_column("visibility", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("why", overflow="fold")
    for test in results.get("tests", []):
        output = (test.get("output") or "").strip().splitlines()
        why = "" if test["status"] == "passed" else (output[0][:100] if output else "")
        table.add_row(test.get("number", ""), test["name"], test.get("visibility", ""),
                      STATUS_STYLE.get(test["status"], test["status"]),
                      f"{test['score']:g} / {test['max_score']:g}", why)
    return table


def print_results(console: Console, results: dict[str, Any], title: str, *, details: bool = False) -> None:
    """The table, the grader's notes, and (with ``details``) each failing test's full output."""
    console.print(results_table(results, title))
    for note in results.get("extra_data", {}).get("notes", []):
        console.print(f"[yellow]note:[/] {note}")
    if details:
        for test in results.get("tests", []):
            if test["status"] == "failed" and test.get("output"):
                console.rule(f"{test.get('number', '')} {test['name']}", style="red")
                console.print(test["output"], markup=False, highlight=False)
    console.print(f"execution time {results.get('execution_time', 0):.1f} s, seed {results.get('extra_data', {}).get('seed')}")
