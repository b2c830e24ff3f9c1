"""Where things live in a course repository (and in an unpacked autograder zip, which mirrors it).

Fixed layout: ``assignments/<slug>/`` (spec, handout, tests), ``reference/<slug>/``, ``starter/<slug>/``,
``dist/<slug>/`` for built zips.  One object answers every "where is X" question so no module builds paths
by hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import AutograderError

ROOT_ENV = "AUTOGRADER_COURSE_ROOT"


@dataclass(frozen=True)
class CourseLayout:
    """The paths of one course repository rooted at ``root``."""

    root: Path

    @classmethod
    def discover(cls, start: Path | None = None) -> "CourseLayout":
        """Find the course root: $AUTOGRADER_COURSE_ROOT, else the nearest parent holding ``assignments/``."""
        if os.environ.get(ROOT_ENV):
            return cls(Path(os.environ[ROOT_ENV]).resolve())
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / "assignments").is_dir():
                return cls(candidate)
        raise AutograderError(
            f"{here}: no 'assignments/' folder here or above; run from the course repository "
            f"or set {ROOT_ENV}=/path/to/course"
        )

    def assignment_dir(self, slug: str) -> Path:
        return self.root / "assignments" / slug

    def spec_path(self, slug: str) -> Path:
        return self.assignment_dir(slug) / "assignment.toml"

    def reference_dir(self, slug: str) -> Path:
        return self.root / "reference" / slug

    def starter_dir(self, slug: str) -> Path:
        return self.root / "starter" / slug

    def dist_dir(self, slug: str) -> Path:
        return self.root / "dist" / slug

    def slugs(self) -> list[str]:
        """Every assignment that has a spec, sorted."""
        base = self.root / "assignments"
        return sorted(p.parent.name for p in base.glob("*/assignment.toml"))
