"""assignment.toml → typed, validated :class:`AssignmentSpec`.

The spec is parsed with tomllib and checked before anything is graded or built: an unknown key, a missing
file or an inconsistent value is refused with a :class:`SpecError` naming the file, the key and the fix.
Every key the spec accepts is read here, so this module is also the reference for the file's format
(see docs/assignment-spec.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # Gradescope's Ubuntu 22.04 image ships Python 3.10
    import tomli as tomllib

from autograder.errors import SpecError, SpecProblems
from autograder.layout import CourseLayout
from autograder.perf.declaration import PerfDeclaration
from autograder.spec_static import static_problems

METRICS = ("time", "peak_memory", "flops", "scaling")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
DEVICES = ("cpu", "cuda")
TEST_FOLDERS = ("public", "hidden")
# Seconds kept free below Gradescope's own timeout for start-up, clean-up and writing results.json.
GRADESCOPE_MARGIN_S = 30

T = TypeVar("T")


@dataclass(frozen=True)
class SubmissionSpec:
    """Which files a student submits; anything else in the upload is ignored."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    max_file_kb: int

    @property
    def files(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass(frozen=True)
class LimitsSpec:
    """Time and memory limits for grading one submission."""

    test_timeout_s: float
    deadline_s: float
    memory_mb: int
    gradescope_timeout_s: float
    processes: int = 64        # RLIMIT_NPROC of the student's account (threads count too)
    file_size_mb: int = 256    # RLIMIT_FSIZE: largest file student code may write (torch.compile writes a 147 MiB header)
    open_files: int = 256      # RLIMIT_NOFILE
    max_return_mb: int = 512   # largest single reply the runner accepts from student code

    def worker_rlimits(self) -> dict[str, int]:
        """The rlimits the worker applies to itself before loading student code (see isolation/jail.py)."""
        return {"address_space": self.memory_mb * 1024 * 1024, "cpu_seconds": int(self.deadline_s),
                "processes": self.processes, "file_size": self.file_size_mb * 1024 * 1024,
                "open_files": self.open_files}


# The (CPUs, memory MB) pairs Gradescope's autograder settings offer, and its longest timeout.
GRADESCOPE_SETTINGS = ((0.5, 768), (1.0, 1536), (2.0, 3072), (4.0, 6144))
GRADESCOPE_MAX_TIMEOUT_MIN = 40


@dataclass(frozen=True)
class GradescopeSpec:
    """``[gradescope]``: the container the assignment needs on Gradescope (its autograder settings page), and
    what a run of the reference measured in such a container (``python -m autograder.envelope``)."""

    cpus: float
    memory_mb: int
    timeout_min: int
    measured_peak_mb: int | None = None   # peak memory of the reference's whole grade, page cache included
    measured_grade_s: float | None = None  # its wall time at `cpus`

    def describe(self) -> str:
        return f"{self.cpus:g} CPU, {self.memory_mb / 1024:g} GB memory, timeout {self.timeout_min} min"


@dataclass(frozen=True)
class TestFolder:
    """A folder of tests (public: shipped to students; hidden: only inside the autograder zip)."""

    name: str
    path: Path
    visibility: str
    hide_errors: str | None

    @property
    def shipped_to_students(self) -> bool:
        return self.name == "public"


@dataclass(frozen=True)
class AssignmentSpec:
    """One assignment, as its spec declares it, with every path resolved and checked."""

    slug: str
    title: str
    spec_path: Path
    assignment_dir: Path
    reference_dir: Path | None  # None in a student's copy: the reference never leaves the course staff
    starter_dir: Path
    handout: Path
    devices: tuple[str, ...]
    requirements: tuple[str, ...]
    submission: SubmissionSpec
    limits: LimitsSpec
    test_folders: tuple[TestFolder, ...]
    perf: tuple[PerfDeclaration, ...] = ()
    baseline_dir: Path | None = None  # naive implementation shipped to students for local perf previews
    student_side: tuple[str, ...] = ()  # trusted helper modules (tests/NAME.py) run in the student's process
    gradescope: GradescopeSpec | None = None  # [gradescope]: the container setting to choose

    def perf_declaration(self, name: str) -> PerfDeclaration | None:
        return next((d for d in self.perf if d.name == name), None)

    def folder(self, name: str) -> TestFolder | None:
        return next((f for f in self.test_folders if f.name == name), None)


class _Table:
    """A TOML table being read: remembers which keys were consumed so leftovers can be refused."""

    def __init__(self, path: Path, name: str, data: Any, problems: list[SpecError]) -> None:
        self.path, self.name, self.problems = path, name, problems
        if not isinstance(data, dict):
            self.report(SpecError(path, name, "must be a table", f"write it as [{name}] with key = value lines"))
            data = {}
        self.data = data
        self.seen: set[str] = set()

    def report(self, problem: SpecError) -> None:
        """Note a problem and go on reading, so one run of `validate` lists every problem."""
        if not any(p.key == problem.key for p in self.problems):  # one problem per key: no cascades
            self.problems.append(problem)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., check: Callable[[Any], str | None] | None = None) -> Any:
        """The value of ``key`` if it has type ``kind`` and passes ``check``; else the problem is reported and a
        stand-in returned (``default``, or an empty value of ``kind``) so that reading goes on."""
        self.seen.add(key)
        full = f"{self.name}.{key}" if self.name else key
        fallback = default if default is not ... else _PLACEHOLDERS.get(_as_tuple(kind)[0])
        if key not in self.data:
            if default is ...:
                self.report(SpecError(self.path, full, "is missing", f"add `{key} = ...` under [{self.name}]"))
            return fallback
        value = self.data[key]
        if (isinstance(value, bool) and bool not in _as_tuple(kind)) or not isinstance(value, kind):
            self.report(SpecError(self.path, full, f"must be {_kind_name(kind)}, not {value!r}", "fix its value"))
            return fallback
        if check is not None and (problem := check(value)):
            self.report(SpecError(self.path, full, f"= {value!r} {problem}", "fix its value"))
            return fallback
        return value

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        values = self.get(key, list, default)
        if not all(isinstance(v, str) for v in values):
            self.report(SpecError(self.path, f"{self.name}.{key}", "must be a list of strings", 'write it as ["a", "b"]'))
            return ()
        return tuple(values)

    def table(self, key: str, default: Any = ...) -> "_Table":
        return _Table(self.path, f"{self.name}.{key}" if self.name else key, self.get(key, dict, default), self.problems)

    def refuse_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            allowed = ", ".join(sorted(self.seen))
            where = f"[{self.name}]" if self.name else "the top level"
            for key in unknown:
                self.report(SpecError(self.path, f"{self.name}.{key}" if self.name else key,
                                      f"is not a known key in {where}", f"remove it or use one of: {allowed}"))


_PLACEHOLDERS: dict[type, Any] = {str: "", int: 1, float: 1.0, list: [], dict: {}, bool: False}


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _plain_file_name(path: Path, key: str, name: str) -> SpecError | None:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or name.strip() != name or not name:
        return SpecError(path, key, f"entry {name!r} is not a plain relative file name",
                        "list file names relative to the submission folder, like \"execution_modes.py\"")


def load_spec(layout: CourseLayout, slug: str) -> AssignmentSpec:
    """Parse and validate ``assignments/<slug>/assignment.toml``; raise :class:`SpecError` on any problem."""
    path = layout.spec_path(slug)
    if not path.is_file():
        known = ", ".join(layout.slugs()) or "none"
        raise SpecError(path, None, f"no assignment spec for {slug!r}", f"check the slug (known assignments: {known})")
    return _parse(path, slug, layout.assignment_dir(slug), layout.reference_dir(slug), layout.starter_dir(slug))


def load_student_spec(folder: Path) -> AssignmentSpec:
    """The spec shipped in a student's starter folder: public tests only, no reference (students never get it)."""
    folder = folder.resolve()
    path = folder / "assignment.toml"
    if not path.is_file():
        raise SpecError(path, None, "no assignment.toml in this folder",
                        "run the command inside the folder you unzipped from starter.zip, or pass --submission FOLDER")
    return _parse(path, folder.name, folder, None, folder)


def _parse(path: Path, slug: str, assignment_dir: Path, reference_dir: Path | None, starter_dir: Path) -> AssignmentSpec:
    """Read and check one spec; ``reference_dir=None`` is a student's copy (no reference, hidden tests absent)."""
    student_copy = reference_dir is None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(path, None, f"is not valid TOML ({exc})", "fix the syntax at the position shown") from exc

    problems: list[SpecError] = []
    top = _Table(path, "", data, problems)
    report = top.report

    meta = top.table("assignment")
    title = meta.get("title", str, check=lambda v: None if v.strip() else "must not be empty")
    handout = assignment_dir / meta.get("handout", str, "README.md")
    devices = meta.strings("devices", ["cpu"])
    requirements = meta.strings("requirements", [])
    baseline = meta.get("baseline", str, None)
    meta.refuse_unknown()
    baseline_dir = assignment_dir / baseline if baseline else None
    if baseline_dir is not None and not baseline_dir.is_dir():
        report(SpecError(path, "assignment.baseline", f"names {baseline_dir}, which is not a folder",
                        "create the naive baseline folder or remove the key"))
    if not handout.is_file():
        report(SpecError(path, "assignment.handout", f"names {handout.name}, which does not exist in {assignment_dir}",
                        "write the handout or point `handout` at it"))
    for device in devices:
        if device not in DEVICES:
            report(SpecError(path, "assignment.devices", f"has unknown device {device!r}", f"use any of {list(DEVICES)}"))
    if "cpu" not in devices:
        report(SpecError(path, "assignment.devices", "must include \"cpu\"",
                        "Gradescope graders have no GPU; add \"cpu\" (GPU-only tests use requires(\"cuda\"))"))

    sub = top.table("submission")
    submission = SubmissionSpec(
        required=sub.strings("required"),
        optional=sub.strings("optional", []),
        max_file_kb=sub.get("max_file_kb", int, 1024, check=_positive),
    )
    sub.refuse_unknown()
    if not submission.required:
        report(SpecError(path, "submission.required", "is empty", "list at least one file the student must submit"))
    for name in submission.files:
        if (problem := _plain_file_name(path, "submission.required", name)) is not None:
            report(problem)
    overlap = set(submission.required) & set(submission.optional)
    if overlap:
        report(SpecError(path, "submission.optional", f"repeats required file(s) {sorted(overlap)}",
                        "list each file in only one of required / optional"))
    for name in submission.required:
        if reference_dir is not None and not (reference_dir / name).is_file():
            report(SpecError(path, "submission.required", f"lists {name}, but {reference_dir / name} does not exist",
                            "add it to the reference solution or fix the name"))

    lim = top.table("limits")
    limits = LimitsSpec(
        test_timeout_s=float(lim.get("test_timeout_s", (int, float), 60, check=_positive)),
        deadline_s=float(lim.get("deadline_s", (int, float), 540, check=_positive)),
        memory_mb=lim.get("memory_mb", int, 4096, check=lambda v: None if v >= 512 else "must be at least 512"),
        gradescope_timeout_s=float(lim.get("gradescope_timeout_s", (int, float), 600, check=_positive)),
        processes=lim.get("processes", int, 64, check=lambda v: None if v >= 16 else "must be at least 16 (torch starts threads)"),
        file_size_mb=lim.get("file_size_mb", int, 256, check=_positive),
        open_files=lim.get("open_files", int, 256, check=lambda v: None if v >= 64 else "must be at least 64"),
        max_return_mb=lim.get("max_return_mb", int, 512, check=_positive),
    )
    lim.refuse_unknown()
    if limits.deadline_s <= limits.test_timeout_s:
        report(SpecError(path, "limits.deadline_s", f"= {limits.deadline_s:g} is not above test_timeout_s = {limits.test_timeout_s:g}",
                        "raise deadline_s or lower test_timeout_s"))
    if limits.deadline_s > limits.gradescope_timeout_s - GRADESCOPE_MARGIN_S:
        report(SpecError(path, "limits.deadline_s",
                        f"= {limits.deadline_s:g} leaves less than {GRADESCOPE_MARGIN_S} s below gradescope_timeout_s = {limits.gradescope_timeout_s:g} "
                        "(Gradescope replaces results with 0 on timeout)",
                        f"set deadline_s to at most {limits.gradescope_timeout_s - GRADESCOPE_MARGIN_S:g}"))

    tests = top.table("tests")
    folders: list[TestFolder] = []
    for name in TEST_FOLDERS:
        if name not in tests.data or (student_copy and name != "public"):
            if name == "public":
                report(SpecError(path, "tests.public", "is missing", "add [tests.public] with path = \"tests/public\""))
            tests.seen.add(name)
            continue
        folder = tests.table(name)
        folder_path = assignment_dir / folder.get("path", str, f"tests/{name}")
        folders.append(TestFolder(
            name=name,
            path=folder_path,
            visibility=folder.get("visibility", str, "visible" if name == "public" else "after_published",
                                  check=lambda v: None if v in VISIBILITIES else f"is not one of {list(VISIBILITIES)}"),
            hide_errors=folder.get("hide_errors", str, None),
        ))
        folder.refuse_unknown()
        if not folder_path.is_dir() or not any(folder_path.glob("test_*.py")):
            report(SpecError(path, f"tests.{name}.path", f"{folder_path} holds no test_*.py files",
                            "create the folder with at least one test file or fix the path"))
    student_side = tests.strings("student_side", [])
    for module in student_side:
        if not (assignment_dir / "tests" / f"{module}.py").is_file():
            report(SpecError(path, "tests.student_side", f"names {module!r}, but tests/{module}.py does not exist",
                            "list module names of files in the assignment's tests/ folder, without .py"))
    tests.refuse_unknown()
    perf = _perf_declarations(path, top.table("perf", {}), assignment_dir, submission, devices)
    gradescope = _gradescope(top.table("gradescope"), limits) if "gradescope" in data else None
    top.refuse_unknown()
    test_files = [file for folder in folders if folder.path.is_dir() for file in sorted(folder.path.rglob("test_*.py"))]
    problems += static_problems(path, assignment_dir, reference_dir, test_files, perf, complete=not student_copy)
    if problems:
        raise SpecProblems(problems)

    return AssignmentSpec(
        slug=slug, title=title, spec_path=path, assignment_dir=assignment_dir,
        reference_dir=reference_dir, starter_dir=starter_dir, handout=handout,
        devices=devices, requirements=requirements, submission=submission, limits=limits,
        test_folders=tuple(folders), perf=perf, baseline_dir=baseline_dir, student_side=student_side,
        gradescope=gradescope,
    )


def _perf_declarations(path: Path, table: _Table, assignment_dir: Path, submission: SubmissionSpec,
                       devices: tuple[str, ...]) -> tuple[PerfDeclaration, ...]:
    """``[perf.NAME]`` tables: what a perf test measures and its credit curve (docs/performance.md)."""
    report = table.report
    modules = {Path(n).stem for n in submission.files if n.endswith(".py")}
    declarations = []
    for name in sorted(table.data):
        entry = table.table(name)
        key = f"perf.{name}"
        metric = entry.get("metric", str, check=lambda v: None if v in METRICS else f"is not one of {list(METRICS)}")
        function = entry.get("function", str)
        module = function.rpartition(".")[0]
        if module not in modules:
            report(SpecError(path, f"{key}.function", f"= {function!r} is not in a submitted module ({sorted(modules)})",
                            'write it as "module.function", e.g. "execution_modes.predict"'))
        inputs = entry.get("inputs", str)
        inputs_file = assignment_dir / "tests" / f"{inputs.rpartition('.')[0]}.py"
        if not inputs.rpartition(".")[0] or not inputs_file.is_file():
            report(SpecError(path, f"{key}.inputs", f"= {inputs!r} needs {inputs_file}, which does not exist",
                            'write it as "perf_inputs.generator" with the generator in tests/perf_inputs.py'))
        number = (int, float)
        declaration = PerfDeclaration(
            name=name, metric=metric, function=function, inputs=inputs,
            size=entry.get("size", int, 64, check=_positive),
            sizes=tuple(entry.get("sizes", list, [])),
            full=float(entry.get("full", number)), zero=float(entry.get("zero", number)),
            threads=entry.get("threads", int, 1, check=_positive),
            devices=entry.strings("devices", list(devices)),
            leaderboard=entry.get("leaderboard", str, None),
            min_batch_ms=float(entry.get("min_batch_ms", number, 20.0, check=_positive)),
            max_seconds=float(entry.get("max_seconds", number, 30.0, check=_positive)),
            min_rounds=entry.get("min_rounds", int, 10, check=lambda v: None if v >= 3 else "must be at least 3"),
            max_rounds=entry.get("max_rounds", int, 80, check=_positive),
            rtol=float(entry.get("rtol", number, 1e-3, check=_positive)),
        )
        entry.refuse_unknown()
        if declaration.full == declaration.zero:
            report(SpecError(path, f"{key}.zero", "equals full", "set zero above full (below it for a speed-up metric)"))
        if metric == "scaling" and (len(declaration.sizes) < 2 or not all(isinstance(n, int) and n > 0 for n in declaration.sizes)):
            report(SpecError(path, f"{key}.sizes", "needs at least two positive sizes for a scaling metric",
                            "e.g. sizes = [256, 512, 1024, 2048]"))
        unknown = [d for d in declaration.devices if d not in devices]
        if unknown:
            report(SpecError(path, f"{key}.devices", f"has {unknown}, not in [assignment] devices", "list only those devices"))
        declarations.append(declaration)
    return tuple(declarations)


def _gradescope(table: _Table, limits: LimitsSpec) -> GradescopeSpec:
    """``[gradescope]``: one of the settings Gradescope offers, consistent with [limits] and with what the
    reference measured in that envelope (docs/assignment-spec.md)."""
    number = (int, float)
    offered = ", ".join(f"{c:g} CPU / {m} MB" for c, m in GRADESCOPE_SETTINGS)
    spec = GradescopeSpec(
        cpus=float(table.get("cpus", number, 0.5, check=_positive)),
        memory_mb=table.get("memory_mb", int, 768, check=_positive),
        timeout_min=table.get("timeout_min", int, 10, check=lambda v: None if 1 <= v <= GRADESCOPE_MAX_TIMEOUT_MIN
                              else f"must be between 1 and {GRADESCOPE_MAX_TIMEOUT_MIN} (Gradescope's limits)"),
        measured_peak_mb=table.get("measured_peak_mb", int, None, check=_positive),
        measured_grade_s=table.get("measured_grade_s", number, None, check=_positive),
    )
    table.refuse_unknown()
    where, report = table.path, table.report
    if (spec.cpus, spec.memory_mb) not in GRADESCOPE_SETTINGS:
        report(SpecError(where, "gradescope.memory_mb", f"= {spec.memory_mb} with cpus = {spec.cpus:g} is not a setting "
                         "Gradescope offers", f"choose one of: {offered}"))
    if limits.gradescope_timeout_s != spec.timeout_min * 60:
        report(SpecError(where, "limits.gradescope_timeout_s", f"= {limits.gradescope_timeout_s:g} s disagrees with "
                         f"[gradescope] timeout_min = {spec.timeout_min}",
                         f"set gradescope_timeout_s = {spec.timeout_min * 60} (or remove it and keep timeout_min = 10)"))
    if spec.measured_peak_mb is not None and spec.measured_peak_mb > spec.memory_mb:
        report(SpecError(where, "gradescope.memory_mb", f"= {spec.memory_mb} is below the {spec.measured_peak_mb} MB the "
                         "reference's grade measured (the container would kill the grader)",
                         f"choose a larger setting ({offered}) or make the grade use less memory"))
    if spec.measured_grade_s is not None and spec.measured_grade_s > limits.deadline_s:
        report(SpecError(where, "gradescope.cpus", f"= {spec.cpus:g}: the reference's grade measured "
                         f"{spec.measured_grade_s:g} s there, beyond limits.deadline_s = {limits.deadline_s:g}",
                         "choose more CPUs, raise deadline_s and timeout_min, or make the tests cheaper"))
    return spec
