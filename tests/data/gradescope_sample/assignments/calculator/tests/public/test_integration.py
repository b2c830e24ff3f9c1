import subprocess
import unittest

from gradescope_utils.autograder_utils.decorators import tags, weight


class TestIntegration(unittest.TestCase):
    """Runs the student's calculator.py as a program and talks to its REPL."""

    def start(self):
        return subprocess.Popen(["python3", "-u", "calculator.py"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, encoding="utf8")

    @weight(2)
    @tags("integration")
    def test_single_input(self):
        """Evaluate 1 + 1 in the REPL"""
        repl = self.start()
        output, _ = repl.communicate("1 + 1\n", 10)
        self.assertTrue(output.startswith(">"))  # the prompt comes first
        self.assertEqual(output[1:].split()[0].strip(), "2")
        repl.terminate()

    @weight(2)
    @tags("integration")
    def test_quit(self):
        """Quit the REPL"""
        repl = self.start()
        repl.communicate("quit\n", 10)
        if repl.returncode is None:
            repl.terminate()
        self.assertEqual(repl.returncode, 0)
