import pytest
from gradescope_utils.autograder_utils.decorators import partial_credit, weight


@weight(2)
def test_add(submission):
    """add() adds two numbers"""
    print("checking add")
    assert submission.toy.add(2, 3) == 5


@weight(3)
def test_mul(submission, reference):
    """mul() matches the reference"""
    assert submission.toy.mul(4, 5) == reference.toy.mul(4, 5)


@partial_credit(4)
def test_partial(submission, set_score=None):
    """add() on four cases, one point each"""
    cases = [(1, 1), (2, 2), (0, 5), (-1, 1)]
    set_score(sum(submission.toy.add(a, b) == a + b for a, b in cases))


@pytest.mark.weight(1)
def test_marker(submission):
    assert submission.toy.add(0, 0) == 0
