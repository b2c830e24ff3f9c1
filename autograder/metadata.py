"""Grading metadata of one test: gradescope_utils decorators and the equivalent pytest markers.

TAs already know ``@weight(2)``, ``@number("1.1")``, ``@visibility``, ``@tags``, ``@hide_errors``,
``@partial_credit`` and ``@leaderboard`` from gradescope-utils; the same facts can be given as
``@pytest.mark.weight(2)`` and friends. A marker wins over a decorator when both are present.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MARKERS = {
    "weight": "weight(points): points this test is worth",
    "number": "number(\"1.2\"): sort key shown on Gradescope",
    "visibility": "visibility(v): hidden | after_due_date | after_published | visible",
    "tags": "tags(*names): Gradescope tags",
    "hide_errors": "hide_errors(message): show only this message when the test fails",
    "partial_credit": "partial_credit(points): the test calls set_score(x) to award part of its points",
    "leaderboard": "leaderboard(column, order='desc'): the test calls set_leaderboard_value(v)",
    "timeout": "timeout(seconds): per-test time limit overriding the assignment's",
    "requires": "requires(device): skip unless the device (e.g. 'cuda') is present",
    "hint": "hint(text): what this test exercises, shown with a hidden failure (never its inputs)",
}


@dataclass
class TestInfo:
    """What the parent needs to list a test in results.json even if it never gets to run."""

    nodeid: str
    file: str
    function: str
    doc: str | None = None
    weight: float | None = None
    number: str | None = None
    visibility: str | None = None
    tags: list[str] = field(default_factory=list)
    hide_errors: str | None = None
    partial_credit: bool = False
    leaderboard_column: str | None = None
    hint: str | None = None  # shown beside the folder's hide_errors text when a hidden test fails
    leaderboard_order: str = "desc"
    timeout_s: float | None = None
    fixtures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TestInfo":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _marker_arg(item: Any, name: str) -> tuple[Any, ...] | None:
    marker = item.get_closest_marker(name)
    return None if marker is None else (tuple(marker.args), dict(marker.kwargs))  # type: ignore[return-value]


def read_metadata(item: Any, nodeid: str, file: str) -> TestInfo:
    """Read decorator attributes and markers from a collected pytest item (function or unittest method)."""
    obj = getattr(item, "obj", None)
    attr = lambda name: getattr(obj, name, None)  # noqa: E731 - tiny accessor
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    info = TestInfo(
        nodeid=nodeid,
        file=file,
        function=item.name,
        doc=doc[0].strip() if doc else None,
        weight=attr("__weight__"),
        number=attr("__number__"),
        visibility=attr("__visibility__"),
        tags=list(attr("__tags__") or []),
        hide_errors=attr("__hide_errors__"),
        partial_credit=hasattr(obj, "__wrapped__") and attr("__weight__") is not None and "set_score" in _wrapped_code_names(obj),
        leaderboard_column=attr("__leaderboard_column__"),
        leaderboard_order=attr("__leaderboard_sort_order__") or "desc",
        fixtures=sorted(getattr(item, "fixturenames", []) or []),
    )
    for name in ("weight", "number", "visibility", "hide_errors", "timeout", "partial_credit", "leaderboard", "tags", "hint"):
        found = _marker_arg(item, name)
        if found is None:
            continue
        args, kwargs = found
        if name == "weight" and args:
            info.weight = float(args[0])
        elif name == "number" and args:
            info.number = str(args[0])
        elif name == "visibility" and args:
            info.visibility = str(args[0])
        elif name == "hide_errors":
            info.hide_errors = str(args[0]) if args else "Test failed"
        elif name == "timeout" and args:
            info.timeout_s = float(args[0])
        elif name == "partial_credit" and args:
            info.weight, info.partial_credit = float(args[0]), True
        elif name == "leaderboard" and args:
            info.leaderboard_column = str(args[0])
            info.leaderboard_order = str(args[1] if len(args) > 1 else kwargs.get("order", "desc"))
        elif name == "tags":
            info.tags = [str(a) for a in args]
        elif name == "hint" and args:
            info.hint = str(args[0])
    if info.weight is not None:
        info.weight = float(info.weight)
    return info


def _wrapped_code_names(obj: Any) -> tuple[str, ...]:
    """Free-variable names of a decorator wrapper: gradescope's partial_credit closes over ``set_score``."""
    func = getattr(obj, "__func__", obj)
    code = getattr(func, "__code__", None)
    return tuple(code.co_freevars) if code else ()
