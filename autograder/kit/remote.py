"""Trusted functions that run *inside the student's process*, called by name through ``student_process.call``.

The worker imports this module from its own copy of the framework (``lib/``), never from the student's files.
It runs beside student code, so student code could tamper with it: nothing computed here is a measurement
the grader trusts. It only sets things up (builds a model from the tests' description, seeds a generator);
the tests check every result in their own process.
"""

from __future__ import annotations

import importlib
import pickle
import sys
from pathlib import Path
from typing import Any, Callable

LIB = Path(__file__).resolve().parents[2]  # the folder holding the framework copy and the declared helper modules


def resolve(function: str) -> Callable[..., Any]:
    """``"module.function"`` from the grader's own files; a module that lives anywhere else is refused, so a
    test cannot be tricked into running a student file of the same name as trusted code."""
    module_name, _, name = function.rpartition(".")
    if not module_name or not name or name.startswith("_"):
        raise ValueError(f"{function!r} is not a public module.function name")
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    origin = Path(getattr(module, "__file__", "") or "/").resolve()
    if not origin.is_relative_to(LIB):
        raise PermissionError(f"{module_name} is not one of the grader's modules (found at {origin})")
    return getattr(module, name)


def build_model(blob: bytes) -> Any:
    """The model the tests pickled (:func:`autograder.kit.process.portable` made it rebuildable here).

    Unpickling is safe in this direction: the bytes come from the trusted test process, never from student code.
    """
    return pickle.loads(blob)  # noqa: S301 - trusted sender, see the docstring


def seed(value: int) -> None:
    """Seed torch's global generator here (model initialisation, shuffling), so a run can be replayed."""
    import torch

    torch.manual_seed(int(value))


def block_autograd(blocked: bool) -> None:
    """Make autograd's engine refuse to run here (a diagnostic for "derive it by hand" functions: the student
    sees the call that used autograd), or let it run again."""
    import torch.autograd as autograd

    original = getattr(block_autograd, "_original", None)
    if original is None:
        original = autograd._engine_run_backward
        block_autograd._original = original  # type: ignore[attr-defined]

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("this function must derive its gradients by hand, but it called autograd "
                           "(.backward() or torch.autograd.grad)")

    autograd._engine_run_backward = refuse if blocked else original
