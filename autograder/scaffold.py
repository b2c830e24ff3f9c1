"""`autograder new SLUG`: a complete, working assignment to start from.

It writes ``assignments/SLUG/`` (spec, handout, public and hidden tests, a perf input generator and one perf
threshold), ``reference/SLUG/`` (a solution with markers) and the generated ``starter/SLUG/``, from the templates
in ``autograder/templates/new``. The result passes ``validate`` and ``verify`` as it is, so an instructor edits
a working assignment instead of assembling one (docs/new-assignment.md is the checklist from there on).
"""

from __future__ import annotations

import re
from pathlib import Path

from autograder.errors import AutograderError
from autograder.layout import CourseLayout
from autograder.starter import write_starter

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "new"
SLUG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def module_name(slug: str) -> str:
    """The submitted module's name for ``slug``: a valid Python identifier (``a5-quant`` → ``a5_quant``)."""
    return re.sub(r"\W", "_", slug).lower()


def create_assignment(layout: CourseLayout, slug: str, title: str | None = None) -> list[Path]:
    """Write the new assignment; return every file written. Refuses to touch an existing assignment."""
    if not SLUG.fullmatch(slug):
        raise AutograderError(f"{slug!r} is not a usable assignment slug; use letters, digits, '_' or '-', starting "
                              "with a letter (like a5_quantization)")
    targets = (layout.assignment_dir(slug), layout.reference_dir(slug), layout.starter_dir(slug))
    existing = [str(path) for path in targets if path.exists()]
    if existing:
        raise AutograderError(f"{', '.join(existing)} already exist(s); pick another slug or remove them first")
    module = module_name(slug)
    values = {"{{SLUG}}": slug, "{{MODULE}}": module, "{{TITLE}}": title or f"{slug}: normalise rows (a template)"}
    written = []
    for template in sorted(TEMPLATE_DIR.rglob("*")):
        if template.is_dir() or "__pycache__" in template.parts:
            continue
        relative = template.relative_to(TEMPLATE_DIR)
        if relative.parts[0] == "reference":
            target = layout.reference_dir(slug) / f"{module}.py"
        else:
            target = layout.assignment_dir(slug) / relative
        text = template.read_text(encoding="utf-8")
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    written += write_starter(layout.reference_dir(slug), layout.starter_dir(slug), slug=slug)
    return written
