"""Build the two zips of an assignment: the Gradescope autograder and the student starter.

``dist/<slug>/autograder.zip`` holds, at its root, ``setup.sh`` (builds a venv with pinned dependencies; never
touches the system python3), ``run_autograder`` (one ``exec`` of the trusted runner), ``requirements.txt``, the
framework source ``autograder/**``, and ``assignments/<slug>/**`` and ``reference/<slug>/**``: the zip mirrors the
course repository, so the unpacked ``/autograder/source`` is itself a course root.

``dist/<slug>/starter.zip`` holds ``<slug>/``: the generated starter code, the public tests (and
``tests/conftest.py``), the handout and ``assignment.toml`` (which ``autograder check`` reads there). Before
anything is written a leak check refuses hidden tests, solution markers, reference files and solution lines
(:func:`check_starter_leaks`).

Both zips are deterministic (:func:`deterministic_zip`): the same inputs give the same bytes. Every function
returns paths or listings; printing is the CLI's job. The spec is re-read from disk before building, because the
zip ships ``assignment.toml`` as it is on disk: a spec that does not load is refused before any zip is written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

from autograder.errors import AutograderError, LeakError, SpecError
from autograder.layout import CourseLayout
from autograder.spec import AssignmentSpec, load_spec
from autograder.starter import solution_spans
from autograder.zips import Files, deterministic_zip

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
REQUIREMENTS_TEMPLATE = TEMPLATES_DIR / "requirements-grader.txt"

AUTOGRADER_EXECUTABLES = frozenset({"setup.sh", "run_autograder"})
SLUG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

REFERENCE_ONLY = "# REFERENCE ONLY"  # first line of a reference file the starter generator does not copy
RAW_MARKERS = (re.compile(rb"BEGIN\s+SOLUTION"), re.compile(rb"END\s+SOLUTION"))
SUBSTANTIAL_CHARS = 25
LEAK_OK = "# leak-ok"  # a shipped line carrying this comment may repeat a solution line (a deliberate choice)
# Pinned for the grader's sandbox only (Linux seccomp); a student's laptop does not need, or may not build, them.
GRADER_ONLY_PACKAGES = frozenset({"pyseccomp"})
TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")



# ---------------------------------------------------------------------------------------------- zips
def _skipped(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__" or name.endswith((".pyc", ".pyo"))


def _tree(folder: Path, prefix: str) -> dict[str, Path]:
    """Every file under ``folder`` as ``prefix/relative/path`` → path; skips __pycache__, *.pyc and dotfiles."""
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not _skipped(d))
        for filename in sorted(filenames):
            file = Path(dirpath) / filename
            if _skipped(filename) or not file.is_file():
                continue
            relative = file.relative_to(folder).as_posix()
            found[f"{prefix}/{relative}" if prefix else relative] = file
    return found


def _add(files: dict[str, Path | bytes], new: Mapping[str, Path | bytes], zip_label: str) -> None:
    for name, source in new.items():
        old = files.get(name)
        if old is not None and old != source:
            raise AutograderError(f"{zip_label}: {_show(old)} and {_show(source)} would both be stored as {name}; "
                                  "rename one of them")
        files[name] = source


def _show(source: Path | bytes, root: Path | None = None) -> str:
    if isinstance(source, bytes):
        return "(generated)"
    return _relative(source, root)


def _relative(path: Path, root: Path | None = None) -> str:
    """``path`` relative to the course root when it lies inside it, else as given."""
    if root is not None and _inside(Path(path), root):
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    return str(path)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _fresh_spec(layout: CourseLayout, spec: AssignmentSpec) -> AssignmentSpec:
    """Re-read the spec from disk: the zip ships assignment.toml as it is now, so that is what must be valid."""
    if not SLUG_PATTERN.fullmatch(spec.slug):
        raise SpecError(layout.assignment_dir(spec.slug), None, f"the assignment folder name {spec.slug!r} is not a plain slug",
                        "rename the folder to letters, digits, '_', '.' or '-' (like a1_execution_modes)")
    return load_spec(layout, spec.slug)


# ---------------------------------------------------------------------------------------------- autograder.zip
def render_run_autograder(slug: str) -> bytes:
    """``run_autograder`` for ``slug``: a single exec of ``python -m autograder gradescope <slug>``."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise ValueError(f"slug {slug!r} is not a plain slug")
    text = (TEMPLATES_DIR / "run_autograder").read_text(encoding="utf-8")
    return text.replace("{{SLUG}}", slug).encode("utf-8")


def _requirement_name(line: str) -> str | None:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


def render_requirements(spec: AssignmentSpec) -> bytes:
    """The grader's pinned requirements followed by the assignment's own ``requirements``."""
    base = REQUIREMENTS_TEMPLATE.read_text(encoding="utf-8").rstrip("\n") + "\n"
    pinned = {_requirement_name(line): line.strip() for line in base.splitlines()
              if line.strip() and not line.lstrip().startswith("#")}
    extra = []
    for requirement in spec.requirements:
        name = _requirement_name(requirement)
        if not requirement.strip() or requirement.lstrip().startswith("-") or "\n" in requirement or name is None:
            raise SpecError(spec.spec_path, "assignment.requirements", f"entry {requirement!r} is not a plain requirement",
                            'write one package per entry, like "scikit-learn==1.7.2" (no pip options)')
        if name in pinned:
            raise SpecError(spec.spec_path, "assignment.requirements",
                            f"entry {requirement!r} names a package the grader already pins ({pinned[name]})",
                            "remove it (the grader's pin is used)")
        extra.append(requirement.strip())
    if extra:
        base += f"# From [assignment] requirements of assignments/{spec.slug}/assignment.toml\n"
        base += "".join(f"{line}\n" for line in extra)
    return base.encode("utf-8")


def autograder_zip_files(layout: CourseLayout, spec: AssignmentSpec) -> dict[str, Path | bytes]:
    """What autograder.zip holds: zip name → source file or generated bytes (see the module docstring)."""
    spec = _fresh_spec(layout, spec)
    for folder in spec.test_folders:
        if not _inside(folder.path, spec.assignment_dir):
            raise SpecError(spec.spec_path, f"tests.{folder.name}.path", f"{folder.path} lies outside {spec.assignment_dir}",
                            f"keep the tests under assignments/{spec.slug}/ so the zip carries them")
    label = "autograder.zip"
    files: dict[str, Path | bytes] = {
        "setup.sh": (TEMPLATES_DIR / "setup.sh").read_bytes(),
        "run_autograder": render_run_autograder(spec.slug),
        "requirements.txt": render_requirements(spec),
    }
    _add(files, _tree(PACKAGE_DIR, "autograder"), label)
    _add(files, _tree(spec.assignment_dir, f"assignments/{spec.slug}"), label)
    _add(files, _tree(spec.reference_dir, f"reference/{spec.slug}"), label)
    return files


def build_autograder_zip(layout: CourseLayout, spec: AssignmentSpec, dest: Path | None = None) -> Path:
    """Write ``dist/<slug>/autograder.zip`` (or ``dest``) and return its path."""
    files = autograder_zip_files(layout, spec)
    return deterministic_zip(dest or layout.dist_dir(spec.slug) / "autograder.zip", files, set(AUTOGRADER_EXECUTABLES))


# ---------------------------------------------------------------------------------------------- starter.zip
def starter_zip_files(layout: CourseLayout, spec: AssignmentSpec) -> dict[str, Path | bytes]:
    """What starter.zip holds, under ``<slug>/``; raises :class:`LeakError` if any of it must not ship."""
    spec = _fresh_spec(layout, spec)
    slug, label = spec.slug, "starter.zip"
    if not spec.starter_dir.is_dir():
        raise AutograderError(f"{_relative(spec.starter_dir, layout.root)} does not exist; "
                              f"run `autograder starter {slug}` to generate it from the reference")
    files: dict[str, Path | bytes] = {}
    _add(files, _tree(spec.starter_dir, slug), label)
    public = spec.folder("public")
    if public is not None:
        where = (public.path.resolve().relative_to(spec.assignment_dir.resolve()).as_posix()
                 if _inside(public.path, spec.assignment_dir) else "tests/public")
        _add(files, _tree(public.path, f"{slug}/{where}"), label)
    # Helpers beside the test folders (conftest.py, perf_inputs.py) serve the public tests too.
    for helper in sorted([*(spec.assignment_dir / "tests").glob("*.py"), *(spec.assignment_dir / "tests").glob("perf_preview.json")]):
        _add(files, {f"{slug}/tests/{helper.name}": helper}, label)
    if spec.baseline_dir is not None:  # the naive implementation `check` previews performance against
        _add(files, _tree(spec.baseline_dir, f"{slug}/{spec.baseline_dir.relative_to(spec.assignment_dir).as_posix()}"), label)
    handout = (spec.handout.resolve().relative_to(spec.assignment_dir.resolve()).as_posix()
               if _inside(spec.handout, spec.assignment_dir) else spec.handout.name)
    _add(files, {f"{slug}/{handout}": spec.handout}, label)
    # `autograder check` in the unzipped folder reads it (load_student_spec): public tests only, no reference.
    _add(files, {f"{slug}/assignment.toml": spec.spec_path}, label)
    # Everything a student installs with the handout's one command: the grader's pins and the framework's wheel.
    _add(files, student_install_files(spec, slug), label)
    check_starter_leaks(layout, spec, files)
    return files


def student_install_files(spec: AssignmentSpec, slug: str) -> dict[str, Path | bytes]:
    """``requirements.txt`` (what the grader pins, the assignment's own packages, then the framework's wheel)
    and the wheel itself, so `pip install -r requirements.txt` in the unzipped folder is the whole set-up."""
    import tempfile

    from autograder.student_wheel import WHEEL_NAME, build_student_wheel

    with tempfile.TemporaryDirectory() as scratch:
        wheel = build_student_wheel(Path(scratch)).read_bytes()
    pins = [line for line in render_requirements(spec).decode("utf-8").splitlines()
            if line and not line.startswith("#") and _requirement_name(line) not in GRADER_ONLY_PACKAGES]
    requirements = ("# Everything `autograder check` needs, at the versions the grader uses. In this folder:\n"
                    "#   python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\n"
                    + "".join(f"{line}\n" for line in pins) + f"./{WHEEL_NAME}\n")
    return {f"{slug}/requirements.txt": requirements.encode("utf-8"), f"{slug}/{WHEEL_NAME}": wheel}


def build_starter_zip(layout: CourseLayout, spec: AssignmentSpec, dest: Path | None = None) -> Path:
    """Leak-check and write ``dist/<slug>/starter.zip`` (or ``dest``) and return its path."""
    files = starter_zip_files(layout, spec)
    return deterministic_zip(dest or layout.dist_dir(spec.slug) / "starter.zip", files, set())


# ---------------------------------------------------------------------------------------------- leak check
def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def solution_blocks(text: str, filename: str = "<reference>") -> list[list[tuple[int, str]]]:
    """The solution blocks of a reference ``.py`` file as the starter generator finds them (one parser for both:
    :func:`autograder.starter.solution_spans`): lists of (line number, line) strictly inside each block."""
    lines = text.splitlines()
    return [[(number, lines[number - 1]) for number in range(begin + 1, end)]
            for begin, end, _ in solution_spans(text, filename)]


def _code_lines(text: str) -> set[int]:
    """Lines on which a code token starts (not a comment, not the inside of a string or docstring), by tokenize:
    the same reading of the file the generator uses, so a string that merely looks like a marker or a closing
    docstring cannot hide a solution line."""
    import io
    import tokenize

    skip = {tokenize.STRING, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER, getattr(tokenize, "FSTRING_MIDDLE", -1)}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in skip:
            lines.add(token.start[0])
    return lines


def _substantial(block: list[tuple[int, str]], code: set[int]) -> list[tuple[int, str]]:
    """Lines of a solution block worth guarding: code lines of 25+ characters (not comments nor string text)."""
    return [(number, line.strip()) for number, line in block if number in code and len(line.strip()) >= SUBSTANTIAL_CHARS]


class _Secrets:
    """What must not reach students, gathered from the reference and the non-public test folders."""

    def __init__(self, spec: AssignmentSpec) -> None:
        self.hidden_folders = [f.path for f in spec.test_folders if not f.shipped_to_students]
        self.hidden_names: dict[str, Path] = {}
        self.hidden_bytes: dict[bytes, Path] = {}
        for folder in self.hidden_folders:
            for file in _tree(folder, "").values():
                if TEST_FILE.match(file.name):
                    self.hidden_names.setdefault(file.name, file)
                    self.hidden_bytes.setdefault(file.read_bytes(), file)
        self.solution_files: dict[bytes, Path] = {}
        self.lines: dict[str, tuple[Path, int]] = {}
        allowed: set[str] = set()
        for file in _tree(spec.reference_dir, "").values():
            data = file.read_bytes()
            text = _text(data)
            if text is None:
                continue
            spans = solution_spans(text, str(file)) if file.suffix == ".py" else []  # the generator copies other files as they are
            lines = text.splitlines()
            blocks = [[(number, lines[number - 1]) for number in range(begin + 1, end)] for begin, end, _ in spans]
            inside = {number for begin, end, _ in spans for number in range(begin, end + 1)}
            allowed.update(code for _, _, codes in spans for code in codes)  # `# STARTER: code` becomes starter code
            allowed.update(line.strip() for number, line in enumerate(lines, start=1) if number not in inside)
            if blocks or text.lstrip("\ufeff").startswith(REFERENCE_ONLY):
                self.solution_files.setdefault(data, file)
                code = _code_lines(text) if blocks else set()
                for block in blocks:
                    for number, stripped in _substantial(block, code):
                        self.lines.setdefault(stripped, (file, number))
        for line in allowed:
            self.lines.pop(line, None)


def check_starter_leaks(layout: CourseLayout, spec: AssignmentSpec, files: Files) -> None:
    """Raise :class:`LeakError` (one line: the file, what leaks, the fix) if ``files`` would leak anything.

    Refused: a file from a non-public test folder or from the reference; a file with the name or the bytes of
    a hidden test; a file byte-identical to a reference file that holds solution blocks; a ``BEGIN SOLUTION`` /
    ``END SOLUTION`` marker; any line (stripped, 25+ characters, not a comment or docstring) of a reference
    solution block, unless the reference also has it outside its blocks or as a ``# STARTER:`` line. A shipped
    line matches with or without its trailing comment; one that carries ``# leak-ok`` is shipped on purpose.
    """
    root, slug = layout.root, spec.slug
    secrets = _Secrets(spec)
    regenerate = f"regenerate the starter with `autograder starter {slug}`"
    for name in sorted(files):
        source = files[name]
        where = f"starter.zip: {name}" + (f" (from {_relative(source, root)})" if not isinstance(source, bytes) else "")
        if not isinstance(source, bytes):
            for folder in secrets.hidden_folders:
                if _inside(Path(source), folder):
                    raise LeakError(f"{where} lies in the non-public test folder {_relative(folder, root)}; "
                                    "ship only tests/public (move the file there or keep it out of the public path)")
            if _inside(Path(source), spec.reference_dir):
                raise LeakError(f"{where} comes from the reference solution; {regenerate} and ship starter/{slug}")
        basename = name.rsplit("/", 1)[-1]
        if basename in secrets.hidden_names:
            raise LeakError(f"{where} has the name of the hidden test {_relative(secrets.hidden_names[basename], root)}; "
                            "rename one of them so the hidden tests' names stay unknown")
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        if data in secrets.hidden_bytes:
            raise LeakError(f"{where} is a copy of the hidden test {_relative(secrets.hidden_bytes[data], root)}; remove it")
        if data in secrets.solution_files:
            raise LeakError(f"{where} is byte-identical to {_relative(secrets.solution_files[data], root)}, "
                            f"which holds solution blocks (or is REFERENCE ONLY); {regenerate}")
        for marker in RAW_MARKERS:
            found = marker.search(data)
            if found:
                line = data[: found.start()].count(b"\n") + 1
                raise LeakError(f"{where} line {line} holds a `{found.group().decode()}` marker (reference solution "
                                f"code); {regenerate} or remove the block")
        text = _text(data)
        if text is None or not secrets.lines:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if LEAK_OK in stripped:
                continue
            hit = secrets.lines.get(stripped) or secrets.lines.get(_without_comment(stripped))
            if hit is not None:
                shown = stripped if len(stripped) <= 60 else stripped[:59] + "…"
                raise LeakError(f"{where} line {number} repeats solution code from {_relative(hit[0], root)} line {hit[1]} "
                                f"({shown!r}); remove or reword it, or {regenerate} (if it is meant to ship, end the "
                                f"line with `{LEAK_OK}`)")


def _without_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` inside a string literal is kept), stripped."""
    quote: str | None = None
    escaped = False
    for index, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index].rstrip()
    return line
