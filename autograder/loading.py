"""Import a submission or the reference as a lazy package view, turning import failures into student messages.

Tests never import student code themselves; they reach it through the ``submission`` fixture, which is a
:class:`PackageView`. ``submission.execution_modes`` imports ``execution_modes.py`` on first use, so a broken
file fails only the tests that touch it, with a message that says what to fix. The reference is imported under
a private package name so a submission and the reference with the same module names can live side by side.
This is also the seam where a later process split replaces in-process import with a proxy to a worker.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
import types
from pathlib import Path
from typing import Any, Callable

ImportHook = Callable[[str, str], None]


class StudentCodeError(Exception):
    """Student code could not be loaded; the message is written for the student and shown as the failure."""


def student_frames(exc: BaseException, directory: Path) -> list[str]:
    """Traceback lines of the frames that lie in ``directory`` (the student's own files), innermost last."""
    directory = directory.resolve()
    lines: list[str] = []
    for frame in traceback.extract_tb(exc.__traceback__):
        # Only real files: "<frozen importlib._bootstrap>" or "<string>" would resolve against the current folder,
        # which is the submission's in the worker, and blame the grader's own errors on the student.
        if not os.path.isabs(frame.filename):
            continue
        try:
            inside = Path(frame.filename).resolve().is_relative_to(directory)
        except (OSError, ValueError):
            inside = False
        if inside:
            lines.append(f'  File "{Path(frame.filename).name}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line.strip()}")
    return lines


def describe_import_failure(module: str, exc: BaseException, directory: Path) -> str:
    """A midnight-readable explanation of why ``module`` failed to import."""
    if isinstance(exc, SyntaxError):
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        detail = f"SyntaxError at {where} of {Path(exc.filename or module).name}: {exc.msg}"
        if exc.text:
            detail += f"\n    {exc.text.rstrip()}"
    elif isinstance(exc, SystemExit):
        detail = f"it called sys.exit({exc.code!r}) while being imported"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    frames = student_frames(exc, directory)
    trace = ("\nWhere, in your code:\n" + "\n".join(frames)) if frames and not isinstance(exc, SyntaxError) else ""
    return (f"Your file {module}.py could not be imported, so this test could not call it.\n{detail}{trace}\n"
            f"Try: `python -c \"import {module}\"` in your project folder and fix the first error it shows.")


class PackageView:
    """Looks like an imported package: ``view.module_name`` imports ``module_name`` from ``directory``.

    ``namespace=None`` imports under the real module names with ``directory`` first on sys.path (what a
    student's own ``import helpers`` expects); a namespace imports under ``<namespace>.<module>`` instead.
    """

    def __init__(self, directory: Path, *, label: str, namespace: str | None = None,
                 on_import: ImportHook | None = None) -> None:
        self._directory = directory.resolve()
        self._label = label
        self._namespace = namespace
        self._on_import = on_import
        self._modules: dict[str, types.ModuleType] = {}
        self._failures: dict[str, StudentCodeError] = {}

    @property
    def directory(self) -> Path:
        return self._directory

    def __repr__(self) -> str:
        return f"<{self._label} package at {self._directory}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._failures:  # a broken import is not re-run (it may hang or crash again)
            raise StudentCodeError(str(self._failures[name])) from None
        if name not in self._modules:
            try:
                self._modules[name] = self._import(name)
            except StudentCodeError as exc:
                self._failures[name] = exc
                raise
        return self._modules[name]

    def _import(self, name: str) -> types.ModuleType:
        if not ((self._directory / f"{name}.py").is_file() or (self._directory / name / "__init__.py").is_file()):
            present = sorted(p.name for p in self._directory.iterdir()) if self._directory.is_dir() else []
            raise StudentCodeError(
                f"{name}.py is missing from the {self._label}. Submit a file named exactly {name}.py "
                f"(found: {', '.join(present) or 'no files'})."
            )
        if self._on_import:
            self._on_import(name, "start")
        try:
            module = self._import_module(name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a student's sys.exit at import is their bug, not ours
            if self._on_import:
                self._on_import(name, "failed")
            raise StudentCodeError(describe_import_failure(name, exc, self._directory)) from None
        if self._on_import:
            self._on_import(name, "done")
        return module

    def _import_module(self, name: str) -> types.ModuleType:
        if self._namespace is None:
            path = str(self._directory)
            if path not in sys.path:
                sys.path.insert(0, path)
            return importlib.import_module(name)
        if self._namespace not in sys.modules:
            package = types.ModuleType(self._namespace)
            package.__path__ = [str(self._directory)]
            sys.modules[self._namespace] = package
        return importlib.import_module(f"{self._namespace}.{name}")
