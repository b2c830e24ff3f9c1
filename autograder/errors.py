"""Error types whose message is a complete, one-line explanation for the person who must act on it.

The CLI prints ``str(error)`` and exits non-zero, so every message names the file, what is wrong and the fix.
"""

from __future__ import annotations


class AutograderError(Exception):
    """Base class: a problem the user can fix, reported in one line without a traceback."""


class SpecError(AutograderError):
    """assignment.toml is missing, unreadable or inconsistent; nothing is built from a refused spec."""

    def __init__(self, path: object, key: str | None, problem: str, fix: str) -> None:
        where = f"{path}" + (f": [{key}]" if key else "")
        super().__init__(f"{where}: {problem}; {fix}")
        self.path = path
        self.key = key


class SpecProblems(SpecError):
    """Every problem found in one reading of assignment.toml (``validate`` lists them all at once), one per line."""

    def __init__(self, problems: list[SpecError]) -> None:
        AutograderError.__init__(self, "\n".join(str(problem) for problem in problems))
        self.problems = problems
        self.path = problems[0].path
        self.key = problems[0].key


class LeakError(AutograderError):
    """A release would ship reference code or hidden tests to students."""
