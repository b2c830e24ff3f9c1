""""Derive it by hand": how tests tell whether a function used autograd.

The rule is graded from outside the student's process: :func:`calls_in_function` reads the *submitted
source* (which the test process holds) and lists the calls a function makes, following the module's own
functions it calls. A guard inside the student's process (:func:`no_autograd`) could be undone by student
code, so it is only a diagnostic: it makes an honest mistake fail at the offending line, with a message that
names it. Hiding a call from the static check (``getattr(t, "back" + "ward")``) is an honour-code matter.
"""

from __future__ import annotations

import ast
import contextlib
from typing import Any, Iterator

AUTOGRAD_CALLS = ("backward", "autograd.grad", "torch.autograd.grad", "autograd.backward", "torch.autograd.backward")


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else f"(...).{node.attr}"
    if isinstance(node, ast.Call):  # torch.relu(x).backward: the call's own name, then what is done to its result
        inner = _dotted(node.func)
        return f"{inner}(...)" if inner else None
    return None


def calls_in_function(source: str, function: str, skip: tuple[str, ...] = ()) -> dict[str, int]:
    """Every call made by ``function`` of ``source`` or by the module-level functions it calls (by name):
    the call's dotted name (``"loss.backward"``, ``"torch.autograd.grad"``) → the first line it is on.
    Functions named in ``skip`` are not followed (their calls to them are still listed)."""
    tree = ast.parse(source)
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if function not in functions:
        return {}
    found: dict[str, int] = {}
    todo, seen = [function], set(skip) - {function}
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Call):
                dotted = _dotted(node.func)
                if dotted is None:
                    continue
                found.setdefault(dotted, node.lineno)
                if dotted in functions:
                    todo.append(dotted)
    return found


def autograd_calls(source: str, function: str, skip: tuple[str, ...] = ()) -> list[str]:
    """The calls of :func:`calls_in_function` that run autograd, as ``"line N: name"``."""
    hits = []
    for name, line in sorted(calls_in_function(source, function, skip).items(), key=lambda item: item[1]):
        tail = name.split(".")[-1]
        if tail == "backward" or name.endswith(AUTOGRAD_CALLS[1:]) or name == "grad":
            hits.append(f"line {line}: {name}(...)")
    return hits


def assert_by_hand(source: str, function: str, charged_elsewhere: tuple[str, ...] = ()) -> None:
    """Fail, naming the lines, if ``function`` of the submitted ``source`` (or a function of the file it
    calls) runs autograd. Functions in ``charged_elsewhere`` have by-hand checks of their own, so their
    autograd is not charged again here (one bug, one charge)."""
    calls = autograd_calls(source, function, charged_elsewhere)
    assert not calls, (f"{function} must derive its gradients by hand, but it (or a function it calls) uses "
                       f"autograd: {'; '.join(calls)}. Use tensor operations instead.")


@contextlib.contextmanager
def no_autograd(student_process: Any) -> Iterator[None]:
    """While the block runs, autograd refuses to run in the student's process (a diagnostic, see the module
    docstring), and grad mode is off in the test process."""
    import torch

    student_process.call("autograder.kit.remote.block_autograd", True)
    try:
        with torch.no_grad():
            yield
    finally:
        try:
            student_process.call("autograder.kit.remote.block_autograd", False)
        except Exception:  # noqa: BLE001 - their process is gone; a fresh one starts unblocked
            pass
