"""The mutants of a reference module: cosmic-ray's mutation operators, applied inside solution blocks only.

Only code students write (the solution blocks, found by the same parser that generates the starter) is
mutated: a mutant there is a bug a student could plausibly make, and a surviving one is a bug the tests
would not catch. Identical mutated sources are kept once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from autograder.starter import solution_spans


@dataclass(frozen=True)
class Mutant:
    """One mutated version of a module."""

    number: int
    operator: str        # cosmic-ray operator name, e.g. "core/ReplaceBinaryOperator_Add_Sub"
    occurrence: int
    line: int            # first line the mutation touches
    source: str          # the whole mutated module

    def diff(self, original: str, filename: str) -> str:
        return "".join(difflib.unified_diff(original.splitlines(keepends=True), self.source.splitlines(keepends=True),
                                            f"a/{filename}", f"b/{filename}", n=1))


def _operators() -> list[tuple[str, object]]:
    import cosmic_ray.plugins as plugins

    found = []
    for name in plugins.operator_names():
        cls = plugins.get_operator(name)
        if not cls.arguments():  # operators needing arguments (e.g. variable replacers) are not configured here
            found.append((name, cls()))
    return found


def mutants_of(path: Path) -> list[Mutant]:
    """Every distinct mutant of ``path`` whose mutation starts inside a solution block."""
    from cosmic_ray.ast import ast_nodes, get_ast
    from cosmic_ray.mutating import mutate_code

    source = path.read_text(encoding="utf-8")
    spans = [(begin, end) for begin, end, _ in solution_spans(source, str(path))]
    seen: set[str] = set()
    result: list[Mutant] = []
    for name, operator in _operators():
        positions = [start for node in ast_nodes(get_ast(source)) for start, _ in operator.mutation_positions(node)]
        for occurrence, (line, _) in enumerate(positions):
            if not any(begin < line < end for begin, end in spans):
                continue
            mutated = mutate_code(source, operator, occurrence)
            if mutated is None or mutated == source or mutated in seen:
                continue
            seen.add(mutated)
            result.append(Mutant(len(result) + 1, name, occurrence, line, mutated))
    return result
