"""A gradescope-utils style file: names imported at the top keep working after the student's process restarts."""

import unittest

from gradescope_utils.autograder_utils.decorators import weight

from tools import ToolError, check, crash


class TestAfterACrash(unittest.TestCase):
    @weight(1)
    def test_1_crash(self):
        """a call that ends the student's process fails this test only"""
        crash()

    @weight(1)
    def test_2_after_the_crash(self):
        """check() and ToolError, imported at the top, still work in the restarted process"""
        self.assertEqual(check(2), 2)
        with self.assertRaises(ToolError):
            check(-1)
