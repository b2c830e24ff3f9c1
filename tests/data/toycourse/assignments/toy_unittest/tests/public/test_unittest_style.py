import unittest

from gradescope_utils.autograder_utils.decorators import number, partial_credit, tags, visibility, weight

from toy import add, mul


class TestArithmetic(unittest.TestCase):
    @weight(2)
    @number("1.1")
    def test_add(self):
        """add() adds"""
        self.assertEqual(add(2, 3), 5)

    @weight(3)
    @tags("mul")
    def test_mul(self):
        """mul() multiplies"""
        self.assertEqual(mul(2, 3), 6)

    @partial_credit(4)
    def test_partial(self, set_score=None):
        """add() partial"""
        set_score(sum(add(a, a) == 2 * a for a in range(4)))

    @weight(1)
    @visibility("after_due_date")
    def test_skipped(self):
        """skipped test keeps its points in the total"""
        self.skipTest("not graded this term")
