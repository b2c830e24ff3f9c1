"""``--compare PREVIOUS``: which submissions' scores changed since an earlier regrade, and which tests changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from autograder.staff.collect import Graded, read_output, test_key

TOLERANCE = 1e-6


@dataclass
class Change:
    id: str
    before: float | None
    after: float | None
    tests: list[tuple[str, float | None, float | None]] = field(default_factory=list)  # (test, before, after)

    def line(self) -> str:
        fmt = lambda v: "absent" if v is None else f"{v:g}"  # noqa: E731
        tests = "; ".join(f"{name}: {fmt(a)} → {fmt(b)}" for name, a, b in self.tests)
        return f"{self.id}: {fmt(self.before)} → {fmt(self.after)}" + (f" ({tests})" if tests else "")


def _points(record: Graded | None) -> dict[str, float]:
    return {} if record is None else {test_key(t): float(t.get("score", 0.0)) for t in record.tests}


def compare(previous: list[Graded], current: list[Graded]) -> list[Change]:
    """Submissions whose total changed (or that appear on one side only), with the tests whose points changed."""
    before = {r.id: r for r in previous}
    after = {r.id: r for r in current}
    changes = []
    for sid in sorted(set(before) | set(after)):
        old, new = before.get(sid), after.get(sid)
        old_total = old.total if old else None
        new_total = new.total if new else None
        if old_total is not None and new_total is not None and abs(old_total - new_total) <= TOLERANCE:
            continue
        if old_total is None and new_total is None:
            continue
        a, b = _points(old), _points(new)
        tests = [(name, a.get(name), b.get(name)) for name in sorted(set(a) | set(b))
                 if a.get(name) is None or b.get(name) is None or abs(a[name] - b[name]) > TOLERANCE]
        changes.append(Change(sid, old_total, new_total, tests))
    return changes


def compare_folders(previous: Path, current: Path) -> list[Change]:
    return compare(read_output(previous)[1], read_output(current)[1])


def write_changes(changes: list[Change], path: Path) -> Path:
    path.write_text("".join(change.line() + "\n" for change in changes) or "no score changed\n", encoding="utf-8")
    return path
