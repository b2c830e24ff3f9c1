"""What one grading run observed, as raw facts: the data model between the supervisor, which records it,
and results.json / feedback, which turn it into what Gradescope and the student see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autograder.metadata import TestInfo
from autograder.spec import TestFolder

# Outcome kinds the runner itself observes (the child reports passed/failed/skipped through phases).
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
TIMEOUT, CRASHED, NOT_RUN, UNCOLLECTABLE = "timeout", "crashed", "not_run", "uncollectable"


@dataclass
class Outcome:
    """What happened to one test, as raw facts; :mod:`autograder.results` turns it into Gradescope JSON."""

    info: TestInfo
    folder: TestFolder
    kind: str
    phases: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    score: float | None = None
    leaderboard_value: Any = None
    duration_s: float = 0.0
    perf: dict[str, Any] | None = None  # a perf test's verdict line and raw samples
    reason: str = ""  # the runner's explanation for timeout / crashed / not_run / uncollectable


@dataclass
class RunRecord:
    """Everything one grading run observed, in collection order."""

    outcomes: list[Outcome]
    seed: int
    elapsed_s: float
    children: int
    notes: list[str] = field(default_factory=list)
    isolation: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[str] = field(default_factory=list)  # output of test processes that failed to start
