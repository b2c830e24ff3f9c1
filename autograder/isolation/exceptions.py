"""Exception classes the student defines, made catchable by the tests in the runner.

A test written for gradescope-utils says ``with self.assertRaises(CalculatorException):`` where
``CalculatorException`` comes from the student's module, and pytest tests say
``pytest.raises(submission.calc.ParseError)``. The class lives in the student's process, so it cannot cross
as a handle (``assertRaises`` wants a class). Instead it crosses as its *lineage*: for each class in its MRO,
``"module:qualname"`` and the same names of its direct bases (:func:`lineage`, in the worker). The runner
builds one local class per lineage entry (:func:`materialise`): a subclass of
:class:`StudentException`, of the materialised student bases and of the built-in
exception bases, so an exception raised there later (which carries its lineage too) is an instance of the
class the test holds, of its student bases, and of ``ValueError``, ``Exception``, ... as it was there.

Classes are cached by name and bases for the whole run, not per worker: a test module binds
``from calculator import CalculatorException`` once, at import, and must still catch it after the student's
process was restarted (a crash in an earlier test). Names are data from the student's process: they are
validated, cut to length, and the number of classes made is bounded.
"""

from __future__ import annotations

import builtins
from typing import Any


class StudentException(Exception):
    """An exception raised inside the student's code, carried back from the worker.

    ``str()`` is the message as the student's process had it (``assertRaisesRegex`` and ``pytest.raises(match=)``
    see what they would see in-process); ``display`` adds the type for failure reports. A class the student
    defined arrives as a local class of its own (autograder/isolation/exceptions.py), so ``assertRaises`` with
    the student's class, or one of its bases, catches it.
    """

    def __init__(self, type_name: str, message: str, frames: list[str]) -> None:
        super().__init__(message)
        self.type_name, self.remote_message, self.frames = type_name, message, frames
        self.display = f"{type_name}: {message}" if message else type_name

    def __str__(self) -> str:
        return self.remote_message


class GraderFault(Exception):
    """The grader's own code (a trusted helper, an input generator) failed inside the worker: a problem for the
    course staff, reported as a failed check, never as "your code raised"."""

MAX_LINEAGE = 32          # classes in one lineage (the MRO of a student exception is rarely deeper than 6)
MAX_NAME = 200
MAX_CLASSES = 2000        # materialised classes per run; past it a generic StudentException class is used
MODULE = "student"        # __module__ of every materialised class (the plugin recognises the student's errors by it)
# Built-in exceptions whose __new__ refuses a mixed-in base or whose layout clashes with StudentException's.
NOT_SUBCLASSABLE = frozenset({"BaseException", "MemoryError", "UnicodeDecodeError", "UnicodeEncodeError",
                              "UnicodeTranslateError"})

_CLASSES: dict[tuple[str, tuple[str, ...]], type] = {}


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"[:MAX_NAME]


def lineage(cls: type) -> list[list[Any]]:
    """(Worker side.) ``[[name, [direct base names]], ...]`` for ``cls`` and its MRO, ``object`` left out."""
    entries = []
    for klass in cls.__mro__[:MAX_LINEAGE]:
        if klass is object:
            continue
        entries.append([_name(klass), [_name(base) for base in klass.__bases__ if base is not object]])
    return entries


def _valid(entries: Any) -> list[tuple[str, tuple[str, ...]]] | None:
    if not isinstance(entries, list) or not entries or len(entries) > MAX_LINEAGE:
        return None
    checked = []
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], list)
                and len(entry[0]) <= MAX_NAME and len(entry[1]) <= MAX_LINEAGE
                and all(isinstance(b, str) and len(b) <= MAX_NAME for b in entry[1])):
            return None
        checked.append((entry[0], tuple(entry[1])))
    return checked


def _builtin(name: str) -> type | None:
    """The built-in exception class ``builtins:Name`` stands for, or None."""
    module, _, qualname = name.partition(":")
    value = getattr(builtins, qualname, None) if module == "builtins" else None
    return value if isinstance(value, type) and issubclass(value, BaseException) else None


def materialise(entries: Any) -> type:
    """(Runner side.) The local class standing for the first entry of a lineage; see the module docstring.

    A malformed lineage gives the generic :class:`StudentException` (catchable as ``Exception``)."""

    checked = _valid(entries)
    if checked is None:
        return StudentException
    known = dict(checked)
    made: dict[str, type] = {}

    def build(name: str, depth: int = 0) -> type:
        if name in made:
            return made[name]
        if (builtin := _builtin(name)) is not None:
            if builtin is BaseException or not issubclass(builtin, Exception):
                return Exception  # KeyboardInterrupt, SystemExit...: never let a student's error pass as one
            return builtin
        if depth > MAX_LINEAGE or name not in known:
            return Exception
        key = (name, known[name])
        if key not in _CLASSES:
            if len(_CLASSES) >= MAX_CLASSES:
                return StudentException
            bases = [build(base, depth + 1) for base in known[name]] or [Exception]
            _CLASSES[key] = _new_class(name, bases, StudentException)
        made[name] = _CLASSES[key]
        return made[name]

    return build(checked[0][0])


def _new_class(name: str, bases: list[type], root: type) -> type:
    """A class named like the student's, deriving from ``bases``, with ``root`` (StudentException) mixed in
    first unless a base already has it; bases whose layout cannot be combined are dropped, last first."""
    from autograder import escape

    module, _, qualname = name.partition(":")
    qualname = escape.one_line(qualname, 100) or "StudentError"
    simple = qualname.rpartition(".")[2] or qualname

    def __init__(self: Any, *args: Any) -> None:  # a test may build one too: raise CalculatorException("x")
        root.__init__(self, simple, str(args[0]) if len(args) == 1 else str(args) if args else "", [])

    namespace = {"__module__": MODULE, "__qualname__": qualname, "_ag_student_module": escape.one_line(module, 100),
                 "__init__": __init__}
    usable = [b for b in dict.fromkeys(bases) if b.__name__ not in NOT_SUBCLASSABLE or issubclass(b, root)]
    while True:
        chosen = usable if any(issubclass(b, root) for b in usable) else [root, *usable]
        try:
            return type(simple, tuple(chosen), namespace)
        except TypeError:  # MRO conflict or incompatible C layouts (e.g. OSError with KeyError)
            if not usable:
                return type(simple, (root,), namespace)
            usable = usable[:-1]
