"""Check a results.json document against Gradescope's format, made strict, and our own invariants.

The schema (``schema/results.schema.json``) refuses unknown keys, because Gradescope silently ignores them and a
typo would go unnoticed. :func:`validate_results` adds what a schema cannot say: the top-level score is the sum
of the test scores, each test's score lies in ``[0, max_score]``, and test names are unique.

jsonschema is a development dependency (tests, ``verify``), imported only when this runs.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "results.schema.json"
TOLERANCE = 1e-9


class ResultsError(ValueError):
    """results.json breaks the contract; the message names the place (``tests[3].status``) and the problem."""


@lru_cache(maxsize=1)
def results_schema() -> dict[str, Any]:
    """The JSON Schema of results.json, as a dict."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _where(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _schema_problems(data: Any) -> list[str]:
    try:
        from jsonschema import Draft202012Validator
    except ImportError as exc:  # pragma: no cover - the dev venv has it
        raise ResultsError("validating results.json needs jsonschema; pip install 'jsonschema>=4'") from exc
    validator = Draft202012Validator(results_schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        if error.validator == "maxLength":
            message = f"is {len(error.instance):,} characters, over the limit of {error.validator_value:,}"
        elif error.validator == "additionalProperties":
            message = error.message.replace("Additional properties are not allowed", "unknown key(s)")
        else:
            message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
        problems.append(f"{_where(error.absolute_path)}: {message}")
    return problems


def _invariant_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    tests = data.get("tests", [])
    seen: dict[str, int] = {}
    for index, test in enumerate(tests):
        name, score, max_score = test["name"], test["score"], test["max_score"]
        if score < -TOLERANCE or score > max_score + TOLERANCE:
            problems.append(f"tests[{index}] ({_short(name)}): score {score:g} is outside [0, max_score = {max_score:g}]")
        if name in seen:
            problems.append(f"tests[{index}]: name {_short(name)} repeats tests[{seen[name]}]; test names must be unique")
        seen.setdefault(name, index)
    total = math.fsum(test["score"] for test in tests)
    if not math.isclose(data["score"], total, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
        problems.append(f"score: {data['score']!r} is not the sum of the test scores ({total!r}); "
                        "Gradescope would show the top-level score, not the tests'")
    return problems


def validate_results(data: Any) -> None:
    """Raise :class:`ResultsError` (one readable line per problem, first problem first) unless ``data`` is valid."""
    problems = _schema_problems(data)
    if not problems:
        problems = _invariant_problems(data)
    if problems:
        more = f" (and {len(problems) - 1} more: " + "; ".join(problems[1:4]) + ("; …" if len(problems) > 4 else "") + ")" \
            if len(problems) > 1 else ""
        raise ResultsError(f"results.json: {problems[0]}{more}")
