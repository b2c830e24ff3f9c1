"""Rich terminal summaries of a results.json document, for TAs (grade, verify) and students (check).

Test names, outputs and notes carry student text, so they are never read as rich markup (a ``[/]`` in an
exception message would raise MarkupError, a ``[link=...]`` would forge a hyperlink) and never reach the
terminal with escape sequences in them: each goes in as a :class:`rich.text.Text` built from
:func:`autograder.escape.strip_control`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from autograder.escape import one_line, strip_control

STATUS_STYLE = {"passed": "green", "failed": "red"}


def totals(results: dict[str, Any]) -> tuple[float, float]:
    tests = results.get("tests", [])
    return sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)


def _plain(text: Any, limit: int = 300) -> Text:
    """One line of untrusted text, shown as typed."""
    return Text(one_line(text, limit))


def results_table(results: dict[str, Any], title: str) -> Table:
    score, max_score = totals(results)
    table = Table(title=Text(f"{one_line(title, 300)}: {score:g} / {max_score:g} points"), title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("test")
    table.add_column("visibility", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("why", overflow="fold")
    for test in results.get("tests", []):
        output = strip_control(test.get("output") or "").strip().splitlines()
        why = "" if test["status"] == "passed" else (output[0][:100] if output else "")
        status = str(test["status"])
        table.add_row(_plain(test.get("number", ""), 20), _plain(test["name"]), _plain(test.get("visibility", ""), 20),
                      Text(one_line(status, 20), style=STATUS_STYLE.get(status, "")),
                      f"{test['score']:g} / {test['max_score']:g}", _plain(why))
    return table


def print_results(console: Console, results: dict[str, Any], title: str, *, details: bool = False) -> None:
    """The table, the grader's notes, and (with ``details``) each failing test's full output."""
    console.print(results_table(results, title))
    for note in results.get("extra_data", {}).get("notes", []):
        console.print(Text.assemble(("note: ", "yellow"), strip_control(note)))
    if details:
        for test in results.get("tests", []):
            if test["status"] == "failed" and test.get("output"):
                console.rule(Text(one_line(f"{test.get('number', '')} {test['name']}", 200)), style="red")
                console.print(Text(strip_control(test["output"])), highlight=False)
    console.print(f"execution time {results.get('execution_time', 0):.1f} s, seed {results.get('extra_data', {}).get('seed')}",
                  markup=False, highlight=False)
