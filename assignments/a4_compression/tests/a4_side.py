"""A4's trusted helpers that run in the student's process (declared in assignment.toml, ``[tests]
student_side``), called by the tests as ``student_process.call("a4_side.NAME", ...)``.

They only set things up; every result they return is checked by the tests in their own process.
"""

from __future__ import annotations

import tempfile
import types
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 8 * 1024 * 1024


def fresh_call(source: str, function: str, *args: Any) -> Any:
    """Call ``function`` of a *fresh* copy of the submitted module (its source run again in a new module
    namespace), so that nothing the first copy kept in its globals, such as the weights it was asked to
    compress a moment ago, can stand in for what the bytes hold: a decompressor must work from the bytes."""
    module = types.ModuleType("_a4_fresh_compression")
    module.__file__ = "compression.py"
    exec(compile(source, "compression.py", "exec"), module.__dict__)  # noqa: S102 - the student's own code, in their process
    return getattr(module, function)(*args)


def scratch_dir() -> str:
    """A new empty folder the student's code may write into (the plot)."""
    return tempfile.mkdtemp(prefix="a4-plot-")


def read_file(path: str) -> bytes:
    """The bytes of a file the student's code wrote (at most 8 MiB)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{path} was not written")
    if file.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    return file.read_bytes()
