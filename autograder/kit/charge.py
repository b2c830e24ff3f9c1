"""One bug, one charge: a test of a function built from other graded functions does not charge their bugs again.

``mlp_backward`` chains ``linear_backward``, ``relu_backward`` and ``cross_entropy_backward``. Without this, one
wrong ``grad_weight`` fails the linear test *and* every ``mlp_backward`` test, and the student sees the same bug
billed three times, the later bills far from the cause. :func:`charge_once` runs the composite test; when it
fails, an assignment-supplied ``blame`` decides whether the failure is wholly explained by building blocks that
their own tests already charge (the student's composite gives exactly what the correct chain over *their* parts
gives, and a part is at fault). Then the composite test passes and says where the bug is; otherwise the original
failure stands. Nothing of the reference runs in the student's process: the correct chain runs in the test.
"""

from __future__ import annotations

from typing import Callable

from autograder.isolation.exceptions import GraderFault
from autograder.loading import StudentCodeError


def charge_once(check: Callable[[], None], blame: Callable[[], str | None]) -> None:
    """Run ``check``; if it fails and ``blame()`` names the building block at fault, pass with a note.

    ``blame`` returns ``None`` when the composite itself is (also) wrong; any exception it raises counts as
    ``None`` too, so a blame that cannot decide never turns a failure into a pass. A lost process or a grader
    fault is never excused.
    """
    try:
        check()
    except (GraderFault, StudentCodeError):
        raise
    except Exception as failure:  # noqa: BLE001 - AssertionError or the student's own exception
        try:
            culprit = blame()
        except Exception:  # noqa: BLE001 - undecided: the failure stands
            culprit = None
        if not culprit:
            raise failure
        print(f"Not charged here: this function chains your building blocks correctly; its result is off only "
              f"because {culprit}; the tests of that code already take the points for it, so fix it there.")
