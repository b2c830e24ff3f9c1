from gradescope_utils.autograder_utils.decorators import weight

SECRET_EXPECTED = 424242


@weight(5)
def test_hidden_add(submission):
    """add() on a hidden case"""
    assert submission.toy.add(424000, 242) == SECRET_EXPECTED
