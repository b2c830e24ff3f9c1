"""The wheel of the student-side framework that ``release`` puts into starter.zip.

A student installs it with the pinned requirements (one command in the handout) and gets the ``autograder``
command: ``check`` runs the public tests exactly as the grader's code would, in-process. Staff-only parts
(packaging, the regrade tools, mutation testing, the assignment templates) stay out. The wheel is written
with :func:`autograder.zips.deterministic_zip`, so the same sources give the same bytes and starter.zip
stays reproducible; its layout and metadata follow the wheel format (PEP 427, core metadata 2.1).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import autograder
from autograder.zips import deterministic_zip

PACKAGE_DIR = Path(autograder.__file__).resolve().parent
# Folders and modules of the package that only course staff use (``check`` reminds students of the course's
# AI-use policy through staff/honesty.py, which is stdlib only, so that one stays).
STAFF_ONLY = ("staff", "mutation", "templates", "scaffold.py", "packaging.py", "verification.py", "student_wheel.py")
STUDENT_KEEPS = ("staff/__init__.py", "staff/honesty.py")
# What the framework itself imports (torch and the assignment's own packages come from requirements.txt).
REQUIRES = ("click>=8.1", "rich>=13", "pytest>=8", "numpy>=1.26", "gradescope-utils==0.5.0",
            'tomli>=2; python_version < "3.11"')
WHEEL_NAME = f"autograder-{autograder.__version__}-py3-none-any.whl"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def student_wheel_files() -> dict[str, bytes]:
    """Zip name → bytes of every entry of the wheel, RECORD included."""
    files: dict[str, bytes] = {}
    for path in sorted(PACKAGE_DIR.rglob("*")):
        relative = path.relative_to(PACKAGE_DIR)
        if (not path.is_file() or "__pycache__" in relative.parts or path.suffix in (".pyc", ".pyo")
                or (relative.parts[0] in STAFF_ONLY and relative.as_posix() not in STUDENT_KEEPS)):
            continue
        files[f"autograder/{relative.as_posix()}"] = path.read_bytes()
    info = f"autograder-{autograder.__version__}.dist-info"
    files[f"{info}/METADATA"] = ("Metadata-Version: 2.1\nName: autograder\n"
                                 f"Version: {autograder.__version__}\n"
                                 "Summary: Student side of the course toolkit: `autograder check` runs the public tests\n"
                                 "Requires-Python: >=3.10\n" + "".join(f"Requires-Dist: {r}\n" for r in REQUIRES)).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: autograder release\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\nautograder = autograder.cli:main\n"
    files[f"{info}/top_level.txt"] = b"autograder\n"
    record = [_record_line(name, data) for name, data in sorted(files.items())] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return files


def build_student_wheel(dest: Path) -> Path:
    """Write the wheel into folder ``dest`` and return its path."""
    return deterministic_zip(dest / WHEEL_NAME, student_wheel_files(), set())
