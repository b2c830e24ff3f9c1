"""kit.charge_once: a composite's failure is excused only when blame names a part at fault."""

from __future__ import annotations

import pytest

from autograder import kit
from autograder.loading import StudentCodeError


def failing() -> None:
    raise AssertionError("grads differ")


def test_a_passing_check_never_asks_for_blame(capsys: pytest.CaptureFixture[str]) -> None:
    kit.charge_once(lambda: None, lambda: pytest.fail("blame must not run"))
    assert capsys.readouterr().out == ""


def test_a_failure_with_a_named_culprit_passes_and_says_where(capsys: pytest.CaptureFixture[str]) -> None:
    kit.charge_once(failing, lambda: "linear_backward is wrong")
    assert "because linear_backward is wrong" in capsys.readouterr().out


@pytest.mark.parametrize("blame", [lambda: None, lambda: "", lambda: failing()], ids=["no culprit", "empty", "raises"])
def test_a_failure_without_a_culprit_stands(blame) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AssertionError, match="grads differ"):
        kit.charge_once(failing, blame)


def test_a_lost_process_is_never_excused() -> None:
    def lost() -> None:
        raise StudentCodeError("Your code's process is no longer running")
    with pytest.raises(StudentCodeError):
        kit.charge_once(lost, lambda: "linear_backward is wrong")
