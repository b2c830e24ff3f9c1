"""{{SLUG}} performance: your normalize_rows against the reference's, timed side by side on the grader."""

from __future__ import annotations

from gradescope_utils.autograder_utils.decorators import number, weight


@weight(2)
@number("3.1")
def test_normalize_rows_time(perf):
    """normalize_rows is about as fast as the reference"""
    perf.check("normalize_rows_time")
