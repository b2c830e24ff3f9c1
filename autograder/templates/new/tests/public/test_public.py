"""{{SLUG}} public tests: torch is the oracle (no reference solution on a student's machine)."""

from __future__ import annotations

from gradescope_utils.autograder_utils.decorators import number, weight

from autograder import kit


@weight(2)
@number("1.1")
def test_normalize_rows(submission, rng, helpers):
    """normalize_rows scales every row to unit length"""
    x = kit.randn(rng, 5, 7)
    kit.assert_tensor(submission.{{MODULE}}.normalize_rows(x), helpers.expected_rows(x), "normalize_rows(x)", like="x")


@weight(1)
@number("1.2")
def test_zero_row_stays_zero(submission, rng, helpers):
    """normalize_rows leaves a row of zeros as zeros"""
    x = kit.randn(rng, 3, 4)
    x[1] = 0.0
    kit.assert_tensor(submission.{{MODULE}}.normalize_rows(x), helpers.expected_rows(x), "normalize_rows(x) with a zero row")
