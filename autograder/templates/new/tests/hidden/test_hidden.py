"""{{SLUG}} hidden tests: other shapes, dtypes and layouts, against the reference solution."""

from __future__ import annotations

import torch
from gradescope_utils.autograder_utils.decorators import number, weight

from autograder import kit


@weight(3)
@number("2.1")
def test_normalize_rows_cases(submission, reference, rng):
    """normalize_rows on random shapes, float64 and a transposed view"""
    rows, columns = kit.randint(rng, 1, 20), kit.randint(rng, 1, 20)
    cases = [("random shape", kit.randn(rng, rows, columns)),
             ("float64", kit.randn(rng, rows, columns, dtype=torch.float64)),
             ("transposed view", kit.randn(rng, columns, rows).T)]
    for case, x in cases:
        expected = reference.{{MODULE}}.normalize_rows(x)
        kit.assert_tensor(submission.{{MODULE}}.normalize_rows(x), expected, f"normalize_rows ({case})", like="x")
