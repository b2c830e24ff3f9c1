"""A4 performance test: your codec's encode + decode time against the reference, side by side on the grader.

It measures ``[perf.codec_time]`` of assignment.toml (see README.md, "How performance is graded"): your
``roundtrip`` (``decode(encode(state_dict))``) and the reference's run in two processes of the same kind, one
thread each, alternating round by round on fresh weights, and the median time ratio is scored on a curve.
Locally (``autograder check``) there is no reference to compare with, so the test is skipped there.
"""

from __future__ import annotations

import ast

from gradescope_utils.autograder_utils.decorators import number, weight

EXPECTED_ROUNDTRIP = "return decode(encode(state_dict))"


@weight(3)
@number("3.1")
def test_codec_time(perf, submitted_source):
    """encode + decode (roundtrip) is about as fast as the reference's"""
    tree = ast.parse(submitted_source("compression.py"))
    bodies = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "roundtrip"]
    statements = [s for s in bodies[0].body if not isinstance(s, ast.Expr)] if bodies else []
    assert len(statements) == 1 and ast.unparse(statements[0]) == EXPECTED_ROUNDTRIP, (
        "roundtrip must stay exactly as given (`return decode(encode(state_dict))`): it is what this test times")
    perf.check("codec_time")
