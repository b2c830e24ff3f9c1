"""Helpers for tests that unpack the autograder zip into a root laid out like Gradescope's /autograder."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path


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
