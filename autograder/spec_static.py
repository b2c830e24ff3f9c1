"""Static checks of the names assignment.toml refers to, so `validate` finds them before anything runs.

Everything is read from syntax trees, nothing is imported: a misspelt perf function or input generator is
reported here, as the instructor's problem, instead of surfacing 24 s into `verify` as an error blamed on
the student's code. It also pairs ``[perf.NAME]`` tables with the tests that use them (``perf.check("NAME")``).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable

from autograder.errors import SpecError


def _top_level_functions(file: Path) -> set[str] | SyntaxError:
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
    except SyntaxError as exc:
        return exc
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def perf_checks_in(file: Path) -> dict[str, int] | SyntaxError:
    """``perf.check("NAME")`` calls with a literal name in a test file: NAME → line."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
    except SyntaxError as exc:
        return exc
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "check"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "perf" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.setdefault(node.args[0].value, node.lineno)
    return found


def static_problems(spec_path: Path, assignment_dir: Path, reference_dir: Path | None,
                    test_files: Iterable[Path], perf: Iterable[object], complete: bool) -> list[SpecError]:
    """Problems with the names the spec uses. ``complete`` is False in a student's copy (no reference, no hidden
    tests), where only what ships can be checked."""
    problems: list[SpecError] = []
    used: dict[str, tuple[Path, int]] = {}
    for file in test_files:
        checks = perf_checks_in(file)
        if isinstance(checks, SyntaxError):
            problems.append(SpecError(file, None, f"is not valid Python (line {checks.lineno}: {checks.msg})",
                                      "fix the test file's syntax"))
            continue
        for name, line in checks.items():
            used.setdefault(name, (file, line))
    declared = {getattr(d, "name") for d in perf}
    for declaration in perf:
        name, function, inputs = (getattr(declaration, key) for key in ("name", "function", "inputs"))
        key = f"perf.{name}"
        if reference_dir is not None:
            module, _, attribute = function.rpartition(".")
            defined = _top_level_functions(reference_dir / f"{module}.py") if (reference_dir / f"{module}.py").is_file() else set()
            if isinstance(defined, set) and attribute not in defined:
                problems.append(SpecError(spec_path, f"{key}.function", f"= {function!r}, but reference/{reference_dir.name}/"
                                          f"{module}.py defines no {attribute!r}", "fix the name or add the function to the reference"))
        generator_module, _, generator = inputs.rpartition(".")
        generator_file = assignment_dir / "tests" / f"{generator_module}.py"
        if generator_file.is_file():
            defined = _top_level_functions(generator_file)
            if isinstance(defined, SyntaxError):
                problems.append(SpecError(generator_file, None, f"is not valid Python (line {defined.lineno}: {defined.msg})",
                                          "fix the generator module's syntax"))
            elif generator not in defined:
                close = ", ".join(sorted(defined)) or "none"
                problems.append(SpecError(spec_path, f"{key}.inputs", f"= {inputs!r}, but tests/{generator_module}.py "
                                          f"defines no {generator!r} (it defines: {close})", "fix the generator's name"))
        if complete and name not in used:
            problems.append(SpecError(spec_path, key, "is used by no test (no perf.check(\"%s\") in the test files)" % name,
                                      "add a weighted test calling perf.check with this name, or remove the table"))
    for name, (file, line) in sorted(used.items()):
        if name not in declared:
            problems.append(SpecError(f"{file}:{line}", None, f"calls perf.check({name!r}) but assignment.toml has no "
                                      f"[perf.{name}] table", f"add [perf.{name}] or fix the name"))
    return problems
