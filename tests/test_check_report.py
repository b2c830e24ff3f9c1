"""`autograder check`'s report tells the truth: what ran here, what only the grader runs, what to fix first."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from autograder.check_report import print_check


def _test(number: str, name: str, status: str, score: float, out_of: float, output: str = "", outcome: str = "passed",
          perf: bool = False) -> dict[str, Any]:
    extra: dict[str, Any] = {"outcome": outcome}
    if perf:
        extra["perf"] = {"line": output}
    return {"number": number, "name": name, "status": status, "score": score, "max_score": out_of, "output": output,
            "extra_data": extra}


def _printed(results: dict[str, Any]) -> str:
    console = Console(record=True, width=120)
    print_check(console, results, "a1 public tests")
    return " ".join(console.export_text().split())


LONG = "expected model.flatten to be an nn.Flatten(); got Linear: run the forward using the layers the handout names"


def test_a_perfect_solution_reads_perfect() -> None:
    """Peak memory is measured only on the grader: it used to read 'failed 0/2 … Skipped' and '26 / 28 points'."""
    text = _printed({"tests": [
        _test("1.1", "get_device", "passed", 1, 1),
        _test("3.1", "predict speed", "passed", 3, 3, "0.80× the time of the reference (preview): full credit", perf=True),
        _test("3.3", "predict memory", "failed", 0, 2, "Skipped, 0 points: peak memory is compared only on the grader",
              outcome="skipped")]})
    assert "4 / 4 points from the 2 tests that ran here; 1 more (2 points) run only on the grader" in text
    assert "not run here" in text and "failed" not in text
    assert "0.80× the time of the reference (preview)" in text  # a passing preview shows its verdict too
    assert "All public tests that ran here pass" in text


def test_messages_are_whole_and_the_advice_names_the_import_error() -> None:
    text = _printed({"tests": [
        _test("1.1", "get_device", "failed", 0, 1, "Your file execution_modes.py could not be imported, so this test could "
              "not call it.\nSyntaxError at line 42 of execution_modes.py: invalid syntax", outcome="failed"),
        _test("1.2", "model structure", "failed", 0, 3, f"Check failed: AssertionError: {LONG}", outcome="failed")]})
    assert LONG in text  # whole, below the table, not cut mid-word
    assert "Your code does not import: SyntaxError at line 42 of execution_modes.py: invalid syntax" in text
    assert "Fix the first failing test above (get_device" not in text
