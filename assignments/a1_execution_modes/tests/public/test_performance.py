"""A1 performance tests: your code against the reference, timed side by side on the grader.

Each test measures one [perf.NAME] entry of assignment.toml (see README.md, "How performance is graded"):
the grader runs your function and the reference's in two processes of the same kind, one thread each,
alternating round by round on fresh inputs, and scores the median time ratio on a curve. The first calls
(warm-up, including any torch.compile) are not timed. Locally, `autograder check` compares you with the
naive baseline shipped in baseline/ instead.
"""

from __future__ import annotations

from gradescope_utils.autograder_utils.decorators import number, weight


@weight(3)
@number("3.1")
def test_predict_time(perf):
    """predict is about as fast as the reference (inference mode, forward only)"""
    perf.check("predict_time")


@weight(3)
@number("3.2")
def test_sgd_step_time(perf):
    """sgd_step is about as fast as the reference (one training step)"""
    perf.check("sgd_step_time")


@weight(2)
@number("3.3")
def test_predict_keeps_no_graph_memory(perf):
    """predict's peak memory stays near the reference's (no autograd graph kept in inference)"""
    perf.check("predict_memory")
