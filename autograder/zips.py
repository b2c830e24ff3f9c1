"""Deterministic zips: the same inputs give the same bytes (autograder.zip, starter.zip, the student wheel).

Its own module so that everything that writes a zip (packaging, the student wheel) depends on it, not on
each other.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Mapping

Files = Mapping[str, "Path | bytes"]

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
ZIP_COMPRESSION = zipfile.ZIP_DEFLATED
ZIP_LEVEL = 9
MODE_EXECUTABLE = 0o100755  # regular file, rwxr-xr-x
MODE_REGULAR = 0o100644     # regular file, rw-r--r--
UNIX = 3                    # "made by" system: Unix, so the permission bits are honoured on unzip


def deterministic_zip(path: Path, files: Files, executable: set[str] | frozenset[str]) -> Path:
    """Write ``files`` (zip name → file path or bytes) to ``path`` so identical inputs give identical bytes.

    Entries are sorted by name, stamped 1980-01-01 00:00, deflated at a fixed level, marked as Unix regular
    files with mode 0755 (names in ``executable``) or 0644, with no directory entries and no extra fields.
    The zip is written beside ``path`` and renamed into place, so a failure leaves no half-written zip.
    """
    for name in files:
        _check_entry_name(name)
    unknown = sorted(set(executable) - set(files))
    if unknown:
        raise ValueError(f"executable names {unknown} are not among the zip's files")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=ZIP_COMPRESSION, compresslevel=ZIP_LEVEL) as archive:
            for name in sorted(files):
                source = files[name]
                data = source if isinstance(source, bytes) else Path(source).read_bytes()
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.create_system = UNIX
                info.external_attr = (MODE_EXECUTABLE if name in executable else MODE_REGULAR) << 16
                info.compress_type = ZIP_COMPRESSION
                info.extra = b""
                info.comment = b""
                archive.writestr(info, data, compress_type=ZIP_COMPRESSION, compresslevel=ZIP_LEVEL)
            archive.comment = b""
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _check_entry_name(name: str) -> None:
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"zip entry name {name!r} is not a plain relative path like 'a/b.py'")
