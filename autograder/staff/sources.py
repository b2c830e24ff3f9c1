"""Read a class's submissions: a Gradescope "Export Submissions" zip or folder, or a plain folder of folders.

A Gradescope export holds one ``submission_<id>/`` folder per submission and ``submission_metadata.yml``, keyed by
folder name, with Ruby-symbol keys (``:submitters:`` with ``:name:``, ``:sid:``, ``:email:``; ``:created_at:``;
``:score:``; ``:results:``, the autograder's results.json). The zip usually wraps all of it in one
``assignment_<n>_export/`` folder. A plain folder of submission folders has no metadata: each folder's name is
its id and its only "submitter".
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.errors import AutograderError

METADATA_NAME = "submission_metadata.yml"
SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
SKIPPED_NAMES = {"__MACOSX", ".DS_Store", "__pycache__"}


@dataclass(frozen=True)
class Submitter:
    name: str
    sid: str
    email: str


@dataclass
class Submission:
    """One submission of the class: where its files are and who submitted it."""

    id: str  # folder name, made safe for paths ("submission_123456")
    folder: Path
    submitters: list[Submitter] = field(default_factory=list)
    created_at: str = ""
    gradescope_score: float | None = None
    gradescope_results: dict[str, Any] | None = None

    def digest(self) -> str:
        """A hash of the submission's files (names and bytes), to tell a changed submission on resume."""
        sha = hashlib.sha256()
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file() and not p.is_symlink()):
            sha.update(str(path.relative_to(self.folder)).encode("utf-8", "surrogateescape") + b"\0")
            sha.update(path.read_bytes() + b"\0")
        return sha.hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "folder": str(self.folder), "created_at": self.created_at,
                "submitters": [vars(s) for s in self.submitters], "gradescope_score": self.gradescope_score}


def _yaml_loader() -> Any:
    """PyYAML's safe loader, plus: unknown tags (Ruby objects such as ``!ruby/hash:...``) read as plain data."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def plain(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", plain)
    Loader.add_multi_constructor("tag:", plain)
    return Loader


def _key(mapping: Any, name: str) -> Any:
    """``mapping[':name']`` as Gradescope writes it, tolerating ``name`` without the colon."""
    if not isinstance(mapping, dict):
        return None
    return mapping.get(f":{name}", mapping.get(name))


def read_metadata(path: Path) -> dict[str, dict[str, Any]]:
    """The export's metadata, keyed by submission folder name; a one-line error naming the file if unreadable."""
    import yaml

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_yaml_loader())  # noqa: S506 - safe subclass
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AutograderError(f"{path}: not a readable Gradescope submission_metadata.yml ({first}); "
                              "re-download the export from Gradescope (Assignment > Review Grades > Export Submissions)")
    if not isinstance(data, dict):
        raise AutograderError(f"{path}: expected a mapping of submission folders, found {type(data).__name__}; "
                              "is this the submission_metadata.yml of a Gradescope export?")
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def _submitters(entry: dict[str, Any]) -> list[Submitter]:
    found = []
    for person in _key(entry, "submitters") or []:
        if isinstance(person, dict):
            found.append(Submitter(name=str(_key(person, "name") or ""), sid=str(_key(person, "sid") or ""),
                                   email=str(_key(person, "email") or "")))
    return found


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def unpack(source: Path, into: Path) -> Path:
    """A zip export, extracted once into ``into`` (safely: no absolute paths or ``..``); a folder, as is."""
    if source.is_dir():
        return source
    if not zipfile.is_zipfile(source):
        raise AutograderError(f"{source}: neither a folder nor a zip file; give a Gradescope export (zip or unzipped "
                              "folder) or a folder holding one folder per submission")
    marker = into / ".unpacked"
    if marker.is_file() and marker.read_text() == str(source.stat().st_mtime_ns):
        return into
    into.mkdir(parents=True, exist_ok=True)
    root = into.resolve()
    with zipfile.ZipFile(source) as archive:
        for member in archive.infolist():
            target = (into / member.filename).resolve()
            if not target.is_relative_to(root):
                raise AutograderError(f"{source}: member {member.filename!r} would unpack outside the folder; "
                                      "refusing this zip")
        archive.extractall(into)
    marker.write_text(str(source.stat().st_mtime_ns))
    return into


def _export_root(folder: Path) -> Path | None:
    """The folder holding submission_metadata.yml: ``folder`` itself or one folder below (the export's wrapper)."""
    if (folder / METADATA_NAME).is_file():
        return folder
    inner = [p for p in folder.iterdir() if p.is_dir() and p.name not in SKIPPED_NAMES and (p / METADATA_NAME).is_file()]
    return inner[0] if len(inner) == 1 else None


def load_submissions(source: Path, scratch: Path) -> tuple[list[Submission], str]:
    """Every submission in ``source``, sorted by id, and the kind of source ("gradescope export" / "folders")."""
    folder = unpack(source, scratch)
    root = _export_root(folder)
    submissions: list[Submission] = []
    if root is not None:
        metadata = read_metadata(root / METADATA_NAME)
        for name, entry in metadata.items():
            path = root / name
            if not path.is_dir():  # listed but absent (Gradescope lists submissions it could not export)
                path = root / "__missing__" / name
            submissions.append(Submission(
                id=SAFE_ID.sub("_", name), folder=path, submitters=_submitters(entry),
                created_at=str(_key(entry, "created_at") or ""), gradescope_score=_number(_key(entry, "score")),
                gradescope_results=_key(entry, "results") if isinstance(_key(entry, "results"), dict) else None))
        listed = {s.folder.name for s in submissions}
        for path in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in SKIPPED_NAMES | listed):
            submissions.append(Submission(id=SAFE_ID.sub("_", path.name), folder=path))  # unlisted: still graded
        kind = "gradescope export"
    else:
        for path in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in SKIPPED_NAMES and not p.name.startswith(".")):
            submissions.append(Submission(id=SAFE_ID.sub("_", path.name), folder=path,
                                          submitters=[Submitter(name=path.name, sid=path.name, email="")]))
        kind = "folders"
    if not submissions:
        raise AutograderError(f"{source}: no submissions found; expected submission_<id>/ folders with "
                              f"{METADATA_NAME} (a Gradescope export) or one folder per submission")
    ids = [s.id for s in submissions]
    if len(set(ids)) != len(ids):
        raise AutograderError(f"{source}: two submission folders map to the same id after making names safe; rename them")
    return sorted(submissions, key=lambda s: s.id), kind


def shard(submissions: list[Submission], index: int, count: int) -> list[Submission]:
    """Shard ``index`` (1-based) of ``count``: every count-th submission in id order, so shards are disjoint,
    cover the class, differ in size by at most one, and are the same on every node."""
    if not 1 <= index <= count:
        raise AutograderError(f"--shard {index}/{count}: the shard number must be between 1 and {count}")
    ordered = sorted(submissions, key=lambda s: s.id)
    return ordered[index - 1::count]
