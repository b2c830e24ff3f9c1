"""Find the tests of a file without importing it, for files whose import failed or crashed the child.

gradescope-utils style test files import student code at the top, so a broken submission can make a whole
test module fail to import (or kill the process while pytest collects it). Those tests must still be listed
with their points, so we read the decorators from the syntax tree: literal arguments of ``weight``,
``partial_credit``, ``number``, ``visibility``, ``hide_errors`` and ``tags``, as decorators or as
``pytest.mark.X`` markers.
"""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.metadata import TestInfo

_NAMES = {"weight", "partial_credit", "number", "visibility", "hide_errors", "tags", "timeout"}


def _decorator_facts(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, tuple[object, ...]]:
    facts: dict[str, tuple[object, ...]] = {}
    for decorator in node.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        func = decorator.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name not in _NAMES:
            continue
        try:
            facts[name] = tuple(ast.literal_eval(arg) for arg in decorator.args)
        except ValueError:
            continue  # a computed argument: we cannot know it without running the file
    return facts


def _info(nodeid: str, file: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> TestInfo:
    facts = _decorator_facts(node)
    doc = (ast.get_docstring(node) or "").strip().splitlines()
    info = TestInfo(nodeid=nodeid, file=file, function=node.name, doc=doc[0] if doc else None)
    if "weight" in facts and facts["weight"]:
        info.weight = float(facts["weight"][0])  # type: ignore[arg-type]
    if "partial_credit" in facts and facts["partial_credit"]:
        info.weight, info.partial_credit = float(facts["partial_credit"][0]), True  # type: ignore[arg-type]
    if facts.get("number"):
        info.number = str(facts["number"][0])
    if facts.get("visibility"):
        info.visibility = str(facts["visibility"][0])
    if "hide_errors" in facts:
        info.hide_errors = str(facts["hide_errors"][0]) if facts["hide_errors"] else "Test failed"
    if "tags" in facts:
        info.tags = [str(t) for t in facts["tags"]]
    if facts.get("timeout"):
        info.timeout_s = float(facts["timeout"][0])  # type: ignore[arg-type]
    return info


def static_tests(path: Path, relative: str) -> list[TestInfo]:
    """The tests pytest would collect from ``path`` (top-level ``test*`` functions, ``Test*``/TestCase
    classes' ``test*`` methods), as far as the syntax tree shows. Empty if the file does not parse."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, OSError, UnicodeDecodeError):
        return []
    found: list[TestInfo] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            found.append(_info(f"{relative}::{node.name}", relative, node))
        elif isinstance(node, ast.ClassDef) and (node.name.startswith("Test") or any(
                (isinstance(b, ast.Attribute) and b.attr == "TestCase") or (isinstance(b, ast.Name) and b.id == "TestCase")
                for b in node.bases)):
            for member in node.body:
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)) and member.name.startswith("test"):
                    found.append(_info(f"{relative}::{node.name}::{member.name}", relative, member))
    return found
