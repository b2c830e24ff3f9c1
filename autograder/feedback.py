"""What a student is told about one test: written for a student at midnight, never leaking hidden tests.

Rules (see docs/grading.md):
- visible tests show the failure message and the frames of the student's own files, never the test's source;
- tests with ``hide_errors`` (all hidden-folder tests by default) show the fixed message, plus only the
  exception type and the student's own frames when the error was raised inside the student's code, so no
  hidden input or expected value appears;
- captured stdout is shown only for tests that are visible now and do not hide errors;
- every output is capped well below Gradescope's 100,000-character cut;
- everything in it that came from the student (messages, printed output, frames) is data: frames are
  validated and the whole output has control characters and terminal escape sequences removed
  (:mod:`autograder.escape`). results.json marks outputs ``text``, so Markdown or HTML in them is shown as typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from autograder import escape
from autograder.events import cap
from autograder.record import CRASHED, FAILED, NOT_RUN, PASSED, SKIPPED, TIMEOUT, UNCOLLECTABLE, Outcome

TEST_OUTPUT_CAP = 8_000
STDOUT_CAP = 3_000


@dataclass(frozen=True)
class Disclosure:
    """How much of a test's details the student may see."""

    hide_message: str | None  # the fixed message, when errors are hidden
    show_stdout: bool


def disclosure_for(outcome: Outcome, visibility: str) -> Disclosure:
    hide = outcome.info.hide_errors or outcome.folder.hide_errors
    return Disclosure(hide_message=hide, show_stdout=visibility == "visible" and hide is None)


def _failed_phase(outcome: Outcome) -> dict:
    failed = [p for p in outcome.phases if p.get("outcome") == "failed"]
    return failed[0] if failed else (outcome.phases[0] if outcome.phases else {})


def _explain_failure(outcome: Outcome, disclosure: Disclosure) -> str:
    phase = _failed_phase(outcome)
    when = phase.get("when", "call")
    origin = phase.get("origin")
    message = phase.get("message", "")
    message = message if isinstance(message, str) else str(message)
    frames = escape.frames(phase.get("student_frames"))
    if origin == "load":  # about the student's own file (missing, syntax error...): safe to show everywhere
        return message
    where = f" at {frames[-2].strip()}" if len(frames) >= 2 else ""
    if disclosure.hide_message is not None:
        lines = [disclosure.hide_message]
        if outcome.info.hint:  # what this test exercises, in the author's words (never its inputs)
            lines.append(f"\nThis test exercises: {outcome.info.hint}")
        if origin == "student":  # type and place only: the message could echo hidden inputs
            lines += [f"\nYour code raised {phase.get('exception', 'an exception')}{where}:"] + frames
        return "\n".join(lines)
    if when != "call":
        first = f"The test could not {'start' if when == 'setup' else 'clean up'}: {_first_line(message)}"
    elif origin == "student":
        first = f"Your code raised {_first_line(message)}{where}"
    else:
        message = without_pytest_explanation(message)
        first = f"Check failed: {_first_line(message)}"
    lines = [first]
    if "\n" in message.strip():
        lines += ["", message]
    if frames:
        lines += ["", "Where, in your code (innermost last):"] + frames
    return "\n".join(lines)


def without_pytest_explanation(message: str) -> str:
    """An ``assert cond, "message"`` failure without pytest's rewritten explanation after the message
    (``assert False`` / ``+  where False = <built-in method is_inference of Tensor object at 0x7f…>``): the
    author's message says what was expected; the explanation is pytest's internals."""
    lines = message.split("\n")
    for index, line in enumerate(lines[1:], start=1):
        if line.startswith("assert ") and lines[0].strip() not in ("AssertionError", "AssertionError:"):
            return "\n".join(lines[:index]).rstrip()
    return message


def _first_line(text: str) -> str:
    stripped = text.strip().splitlines()
    return stripped[0] if stripped else "(no message)"


def render_output(outcome: Outcome, visibility: str) -> str:
    """The per-test ``output`` string for results.json."""
    disclosure = disclosure_for(outcome, visibility)
    if outcome.kind == PASSED:
        body = ""
    elif outcome.kind == FAILED:
        body = _explain_failure(outcome, disclosure)
    elif outcome.kind == SKIPPED:
        reason = next((p.get("message", "") for p in outcome.phases if p.get("outcome") == "skipped"), "")
        body = f"Skipped, 0 points: {reason or 'no reason given'}"
    elif outcome.kind in (TIMEOUT, CRASHED, NOT_RUN):
        body = outcome.reason
    elif outcome.kind == UNCOLLECTABLE:
        body = disclosure.hide_message or outcome.reason
        if disclosure.hide_message is not None:
            body += "\n(This test's file could not be loaded; check that your code imports without errors.)"
    else:
        body = outcome.reason or outcome.kind
    if outcome.perf and outcome.perf.get("line"):
        body = outcome.perf["line"] + ("\n\n" + body if body else "")
    if disclosure.show_stdout:
        printed = (outcome.stdout + outcome.stderr).strip()
        if printed:
            body += ("\n\n" if body else "") + "Printed during this test:\n" + cap(printed, STDOUT_CAP)
    return cap(escape.strip_control(body), TEST_OUTPUT_CAP)
