"""Helpers for tests that unpack the autograder zip into a root laid out like Gradescope's /autograder."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograder.envelope import Envelope, EnvelopeRun


def unpack(archive_path: Path, target: Path) -> None:
    """Unzip keeping the permission bits stored in the zip (zipfile.extractall drops them; Gradescope keeps them)."""
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            archive.extract(info, target)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                (target / info.filename).chmod(mode)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the dev venv's traces, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    venv_bin = str(Path(os.environ["VIRTUAL_ENV"]) / "bin") if os.environ.get("VIRTUAL_ENV") else None
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env.update(extra)
    return env


def grade_in_envelope(archive_path: Path, files: dict[str, str], workspace: Path, envelope: "Envelope", *,
                      timeout_s: float, name: str = "grade") -> tuple[Path, "EnvelopeRun"]:
    """Unpack ``archive_path`` into a fresh root laid out like ``/autograder`` under ``workspace``, put ``files``
    (name -> text) in ``submission/`` and run ``run_autograder`` inside ``envelope``; returns (root, the run).
    results.json is at ``root / "results" / "results.json"`` if the grade wrote one."""
    import shutil
    import sys
    import tempfile

    from autograder.envelope import run_in_envelope

    root = Path(tempfile.mkdtemp(prefix=f"autograder-{name}-", dir=workspace))
    root.chmod(0o755)
    unpack(archive_path, root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for file_name, text in files.items():
        (root / "submission" / file_name).write_text(text)
    (root / "results").mkdir()
    env = clean_env(AUTOGRADER_ROOT=str(root), AUTOGRADER_VENV=sys.prefix)
    run = run_in_envelope([str(root / "run_autograder")], envelope, cwd=root, env=env, timeout_s=timeout_s,
                          output=root / "run_autograder.out")
    return root, run
