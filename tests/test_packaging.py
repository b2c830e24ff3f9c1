"""Packaging: deterministic zips, the autograder zip's contents, the starter zip's leak check, results schema.

Each test builds its own tiny course tree under tmp_path (no torch, no dependence on a1).
"""

from __future__ import annotations

import io
import copy
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

import autograder

from autograder.errors import AutograderError, LeakError, SpecError
from autograder.layout import CourseLayout
from autograder.packaging import (
    autograder_zip_files,
    build_autograder_zip,
    build_starter_zip,
    deterministic_zip,
    render_requirements,
    starter_zip_files,
)
from autograder.results_schema import ResultsError, validate_results
from autograder.spec import load_spec, load_student_spec

SLUG = "demo"

SPEC = """\
[assignment]
title = "Demo"
requirements = {requirements}

[submission]
required = ["demo.py"]

[limits]
test_timeout_s = 10
deadline_s = 120

[tests.public]
path = "tests/public"

[tests.hidden]
path = "tests/hidden"
"""

REFERENCE = '''\
"""Demo: scaled sums."""

from __future__ import annotations


def scaled_sum(values: list[float], factor: float) -> float:
    """Sum of ``values`` times ``factor``."""
    # BEGIN SOLUTION: add them up, then scale
    # STARTER: running_total_of_values = sum(values)
    """Docstring text inside the solution that may repeat in the starter."""
    # a comment inside the solution block that is long enough to count
    running_total_of_values = sum(values)
    scaled_total_of_the_values = running_total_of_values * factor
    message_shared_with_other_code = "values must be floats"
    return scaled_total_of_the_values
    # END SOLUTION


def check(values: list[float]) -> None:
    message_shared_with_other_code = "values must be floats"
    if not all(isinstance(v, float) for v in values):
        raise TypeError(message_shared_with_other_code)
'''

STARTER = '''\
# Starter code for demo. Replace each NotImplementedError with your implementation.
"""Demo: scaled sums."""

from __future__ import annotations


def scaled_sum(values: list[float], factor: float) -> float:
    """Sum of ``values`` times ``factor``."""
    running_total_of_values = sum(values)


def check(values: list[float]) -> None:
    message_shared_with_other_code = "values must be floats"
    if not all(isinstance(v, float) for v in values):
        raise TypeError(message_shared_with_other_code)
'''

PUBLIC_TEST = "def test_public(submission):\n    assert submission.demo.scaled_sum([1.0], 2.0) == 2.0\n"
HIDDEN_TEST = "def test_hidden(submission):\n    assert submission.demo.scaled_sum([1.0, 2.0], 0.5) == 1.5\n"


def make_course(root: Path, requirements: str = "[]") -> CourseLayout:
    assignment = root / "assignments" / SLUG
    files = {
        assignment / "assignment.toml": SPEC.format(requirements=requirements),
        assignment / "README.md": "# Demo\n\nImplement `scaled_sum`.\n",
        assignment / "tests" / "conftest.py": "# shared fixtures\n",
        assignment / "tests" / "public" / "test_public.py": PUBLIC_TEST,
        assignment / "tests" / "hidden" / "test_hidden_secret.py": HIDDEN_TEST,
        root / "reference" / SLUG / "demo.py": REFERENCE,
        root / "starter" / SLUG / "demo.py": STARTER,
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return CourseLayout(root)


@pytest.fixture
def course(tmp_path: Path) -> CourseLayout:
    return make_course(tmp_path / "course")


def entries(path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: info for info in archive.infolist()}


def dist_is_empty(layout: CourseLayout) -> bool:
    dist = layout.root / "dist"
    return not dist.exists() or not any(dist.rglob("*"))


# ---------------------------------------------------------------------------------------------- determinism
def test_deterministic_zip_writes_fixed_metadata(tmp_path: Path) -> None:
    source = tmp_path / "b.txt"
    source.write_text("bee\n")
    path = deterministic_zip(tmp_path / "out.zip", {"z/run": b"#!/bin/sh\n", "b.txt": source, "a/c.py": b"x = 1\n"},
                             {"z/run"})
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["a/c.py", "b.txt", "z/run"]  # sorted, no directory entries
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.extra == b""
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.create_system == 3
            assert stat.S_ISREG(info.external_attr >> 16)
        modes = {i.filename: (i.external_attr >> 16) & 0o7777 for i in infos}
        assert modes == {"a/c.py": 0o644, "b.txt": 0o644, "z/run": 0o755}
        assert archive.read("b.txt") == b"bee\n"
        assert archive.comment == b""
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_deterministic_zip_refuses_bad_names_and_unknown_executables(tmp_path: Path) -> None:
    for bad in ["/abs.txt", "../up.txt", "a//b.txt", "a\\b.txt", "a/./b.txt"]:
        with pytest.raises(ValueError, match="plain relative path"):
            deterministic_zip(tmp_path / "x.zip", {bad: b""}, set())
    with pytest.raises(ValueError, match="not among the zip's files"):
        deterministic_zip(tmp_path / "x.zip", {"a": b""}, {"b"})
    assert not (tmp_path / "x.zip").exists()


def test_autograder_zip_is_byte_identical_across_builds_and_touches(course: CourseLayout, tmp_path: Path) -> None:
    spec = load_spec(course, SLUG)
    first = build_autograder_zip(course, spec).read_bytes()
    assert build_autograder_zip(course, spec).read_bytes() == first
    # Touch every input (new mtimes), change a permission bit, add caches and dotfiles: same bytes.
    later = 2_000_000_000
    for path in course.root.rglob("*"):
        os.utime(path, (later, later))
    (course.reference_dir(SLUG) / "demo.py").chmod(0o755)
    (course.assignment_dir(SLUG) / ".DS_Store").write_bytes(b"junk")
    cache = course.reference_dir(SLUG) / "__pycache__"
    cache.mkdir()
    (cache / "demo.cpython-311.pyc").write_bytes(b"junk")
    (course.assignment_dir(SLUG) / "tests" / "stray.pyc").write_bytes(b"junk")
    assert build_autograder_zip(course, spec).read_bytes() == first
    again = build_autograder_zip(course, spec, dest=tmp_path / "elsewhere" / "autograder.zip")
    assert again.read_bytes() == first


def test_starter_zip_is_byte_identical_across_builds_and_touches(course: CourseLayout) -> None:
    spec = load_spec(course, SLUG)
    first = build_starter_zip(course, spec).read_bytes()
    for path in course.root.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    assert build_starter_zip(course, spec).read_bytes() == first


# ---------------------------------------------------------------------------------------------- autograder.zip
def test_autograder_zip_contents(course: CourseLayout) -> None:
    spec = load_spec(course, SLUG)
    path = build_autograder_zip(course, spec)
    assert path == course.root / "dist" / SLUG / "autograder.zip"
    infos = entries(path)
    names = set(infos)
    assert {
        "setup.sh", "run_autograder", "requirements.txt",
        "autograder/__init__.py", "autograder/__main__.py", "autograder/packaging.py", "autograder/spec.py",
        "autograder/results_schema.py", "autograder/schema/results.schema.json",
        "autograder/templates/setup.sh", "autograder/templates/run_autograder",
        f"assignments/{SLUG}/assignment.toml", f"assignments/{SLUG}/README.md",
        f"assignments/{SLUG}/tests/conftest.py",
        f"assignments/{SLUG}/tests/public/test_public.py", f"assignments/{SLUG}/tests/hidden/test_hidden_secret.py",
        f"reference/{SLUG}/demo.py",
    } <= names
    prefixes = {name.split("/")[0] for name in names}
    assert prefixes == {"setup.sh", "run_autograder", "requirements.txt", "autograder", "assignments", "reference"}
    assert not any("__pycache__" in n or n.endswith(".pyc") or "/." in n or n.startswith(".") for n in names)
    assert not any(n.endswith("/") for n in names)
    for name, info in infos.items():
        mode = (info.external_attr >> 16) & 0o7777
        assert mode == (0o755 if name in ("setup.sh", "run_autograder") else 0o644), name
    # The unpacked zip is itself a course root that the spec loader accepts.
    with zipfile.ZipFile(path) as archive:
        archive.extractall(course.root.parent / "unpacked")
    unpacked = load_spec(CourseLayout(course.root.parent / "unpacked"), SLUG)
    assert [f.name for f in unpacked.test_folders] == ["public", "hidden"]


def test_autograder_zip_files_matches_the_written_zip(course: CourseLayout) -> None:
    spec = load_spec(course, SLUG)
    listing = autograder_zip_files(course, spec)
    with zipfile.ZipFile(build_autograder_zip(course, spec)) as archive:
        assert sorted(listing) == archive.namelist()
        for name, source in listing.items():
            expected = source if isinstance(source, bytes) else source.read_bytes()
            assert archive.read(name) == expected, name


def test_run_autograder_is_one_exec_line(course: CourseLayout) -> None:
    files = autograder_zip_files(course, load_spec(course, SLUG))
    text = files["run_autograder"].decode()
    assert text.startswith("#!/usr/bin/env bash\n")
    commands = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(commands) == 1
    assert commands[0].startswith("exec env PYTHONPATH=")
    assert f"-m autograder gradescope {SLUG} --root" in commands[0]
    assert "AUTOGRADER_ROOT:-/autograder" in commands[0] and "AUTOGRADER_VENV:-/autograder/venv" in commands[0]
    assert "{{" not in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_scripts_parse_with_bash(course: CourseLayout, tmp_path: Path) -> None:
    files = autograder_zip_files(course, load_spec(course, SLUG))
    for name in ("setup.sh", "run_autograder"):
        script = tmp_path / name
        script.write_bytes(files[name])
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: {result.stderr}"
    setup = files["setup.sh"].decode()
    assert "set -euo pipefail" in setup
    assert "AUTOGRADER_TORCH_INDEX" in setup and "download.pytorch.org/whl/cpu" in setup
    assert "-m autograder sandbox-setup" in setup  # creates the unprivileged grading account


def test_requirements_pin_the_grader_and_append_the_spec(tmp_path: Path) -> None:
    layout = make_course(tmp_path / "c", requirements='["scikit-learn==1.7.2"]')
    text = render_requirements(load_spec(layout, SLUG)).decode()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "torch==2.13.0"
    for pin in ("numpy==", "pytest==", "click==", "rich==", "gradescope-utils==0.5.0", 'tomli==2.2.1; python_version < "3.11"'):
        assert any(line.startswith(pin) for line in lines), pin
    assert lines[-1] == "scikit-learn==1.7.2"
    assert all("==" in line for line in lines)


@pytest.mark.parametrize("requirement, problem", [
    ('["numpy>=2"]', "already pins"),
    ('["--index-url https://example.invalid/simple"]', "not a plain requirement"),
])
def test_bad_spec_requirements_are_refused(tmp_path: Path, requirement: str, problem: str) -> None:
    layout = make_course(tmp_path / "c", requirements=requirement)
    with pytest.raises(SpecError, match=problem):
        build_autograder_zip(layout, load_spec(layout, SLUG))
    assert dist_is_empty(layout)


def test_broken_spec_is_refused_before_any_zip(course: CourseLayout) -> None:
    spec = load_spec(course, SLUG)
    spec_path = course.spec_path(SLUG)
    spec_path.write_text(spec_path.read_text() + "\n[extra]\nkey = 1\n")  # broken after it was loaded
    with pytest.raises(SpecError, match="extra"):
        build_autograder_zip(course, spec)
    with pytest.raises(SpecError, match="extra"):
        build_starter_zip(course, spec)
    assert dist_is_empty(course)


def test_tests_outside_the_assignment_are_refused(course: CourseLayout) -> None:
    outside = course.root / "elsewhere"
    outside.mkdir()
    (outside / "test_x.py").write_text(HIDDEN_TEST)
    spec_path = course.spec_path(SLUG)
    spec_path.write_text(spec_path.read_text().replace('path = "tests/hidden"', 'path = "../../elsewhere"'))
    with pytest.raises(SpecError, match="outside"):
        build_autograder_zip(course, load_spec(course, SLUG))
    assert dist_is_empty(course)


# ---------------------------------------------------------------------------------------------- starter.zip
def test_starter_zip_contents(course: CourseLayout) -> None:
    spec = load_spec(course, SLUG)
    path = build_starter_zip(course, spec)
    assert path == course.root / "dist" / SLUG / "starter.zip"
    infos = entries(path)
    assert sorted(infos) == [f"{SLUG}/README.md", f"{SLUG}/assignment.toml", f"{SLUG}/autograder-{autograder.__version__}-py3-none-any.whl",
                             f"{SLUG}/demo.py", f"{SLUG}/requirements.txt", f"{SLUG}/tests/conftest.py",
                             f"{SLUG}/tests/public/test_public.py"]
    assert all((info.external_attr >> 16) & 0o7777 == 0o644 for info in infos.values())
    with zipfile.ZipFile(path) as archive:
        assert archive.read(f"{SLUG}/demo.py").decode() == STARTER
        requirements = archive.read(f"{SLUG}/requirements.txt").decode()
        assert "torch==" in requirements and f"./autograder-{autograder.__version__}-py3-none-any.whl" in requirements
        with zipfile.ZipFile(io.BytesIO(archive.read(f"{SLUG}/autograder-{autograder.__version__}-py3-none-any.whl"))) as wheel:
            names = wheel.namelist()
        assert "autograder/cli.py" in names and "autograder/kit/compare.py" in names
        assert not any(name.startswith(("autograder/mutation/", "autograder/templates/")) or name == "autograder/packaging.py"
                       for name in names)  # staff tools stay out of the student's package
        archive.extractall(course.root.parent / "student")
    assert sorted(starter_zip_files(course, spec)) == sorted(infos)
    # The unzipped folder is what `autograder check` runs in: its spec loads, with the public tests only.
    student = load_student_spec(course.root.parent / "student" / SLUG)
    assert [f.name for f in student.test_folders] == ["public"]
    assert student.reference_dir is None


def test_starter_zip_needs_a_generated_starter(course: CourseLayout) -> None:
    shutil.rmtree(course.starter_dir(SLUG))
    with pytest.raises(AutograderError, match=f"run `autograder starter {SLUG}`"):
        build_starter_zip(course, load_spec(course, SLUG))
    assert dist_is_empty(course)


def _public(layout: CourseLayout) -> Path:
    return layout.assignment_dir(SLUG) / "tests" / "public"


def _leak_hidden_folder(layout: CourseLayout) -> str:
    (_public(layout) / "test_linked.py").symlink_to(layout.assignment_dir(SLUG) / "tests" / "hidden" / "test_hidden_secret.py")
    return "test_linked.py"


def _leak_marker(layout: CourseLayout) -> str:
    path = layout.starter_dir(SLUG) / "demo.py"
    path.write_text(STARTER + "\n\ndef extra() -> None:\n    # BEGIN SOLUTION: forgot to strip this\n    pass\n")
    return "demo.py"


def _leak_identical(layout: CourseLayout) -> str:
    (layout.starter_dir(SLUG) / "demo.py").write_text(REFERENCE)
    return "demo.py"


def _leak_solution_line(layout: CourseLayout) -> str:
    (layout.starter_dir(SLUG) / "helpers.py").write_text(
        "def hint(values, factor):\n    scaled_total_of_the_values = running_total_of_values * factor\n")
    return "helpers.py"


def _leak_solution_line_in_handout(layout: CourseLayout) -> str:
    handout = layout.assignment_dir(SLUG) / "README.md"
    handout.write_text(handout.read_text() + "\n```python\nreturn scaled_total_of_the_values\n```\n")
    return "README.md"


def _leak_solution_line_with_comment(layout: CourseLayout) -> str:
    (layout.starter_dir(SLUG) / "helpers.py").write_text(
        "def hint(values, factor):\n    scaled_total_of_the_values = running_total_of_values * factor  # hint\n")
    return "helpers.py"


def _leak_hidden_name(layout: CourseLayout) -> str:
    (_public(layout) / "test_hidden_secret.py").write_text(PUBLIC_TEST.replace("test_public", "test_other"))
    return "test_hidden_secret.py"


def _leak_hidden_copy(layout: CourseLayout) -> str:
    (_public(layout) / "test_more.py").write_text(HIDDEN_TEST)
    return "test_more.py"


def _leak_reference_file(layout: CourseLayout) -> str:
    (layout.starter_dir(SLUG) / "solution_link.py").symlink_to(layout.reference_dir(SLUG) / "demo.py")
    return "solution_link.py"


@pytest.mark.parametrize("make_leak, what", [
    (_leak_hidden_folder, "non-public test folder"),
    (_leak_marker, "BEGIN SOLUTION` marker"),
    (_leak_identical, "byte-identical"),
    (_leak_solution_line, "repeats solution code"),
    (_leak_solution_line_in_handout, "repeats solution code"),
    (_leak_solution_line_with_comment, "repeats solution code"),
    (_leak_hidden_name, "name of the hidden test"),
    (_leak_hidden_copy, "copy of the hidden test"),
    (_leak_reference_file, "comes from the reference"),
], ids=lambda v: v.__name__.removeprefix("_leak_") if callable(v) else None)
def test_leaks_are_refused_naming_the_file(course: CourseLayout, make_leak, what: str) -> None:
    filename = make_leak(course)
    with pytest.raises(LeakError) as caught:
        build_starter_zip(course, load_spec(course, SLUG))
    message = str(caught.value)
    assert what in message
    assert filename in message
    assert "\n" not in message
    assert dist_is_empty(course)


def test_leak_check_sees_the_blocks_the_generator_strips(course: CourseLayout) -> None:
    """One parser for both: an `# END SOLUTION` line inside a string ended the leak check's old line-regex block
    early, so a solution line after it counted as shared code and could ship; the generator (tokenize) strips it."""
    reference = course.reference_dir(SLUG) / "demo.py"
    reference.write_text(reference.read_text() + (
        '\n\ndef tricky() -> str:\n    # BEGIN SOLUTION\n    banner = """\n# END SOLUTION\n"""\n'
        "    return banner + str(the_secret_after_the_string_marker)\n    # END SOLUTION\n"))
    from autograder.starter import write_starter

    write_starter(course.reference_dir(SLUG), course.starter_dir(SLUG), slug=SLUG)
    assert "the_secret_after_the_string_marker" not in (course.starter_dir(SLUG) / "demo.py").read_text()
    (_public(course) / "helper_copy.py").write_text("def f(banner):\n    return banner + str(the_secret_after_the_string_marker)\n")
    with pytest.raises(LeakError, match=r"helper_copy.py\) line 2 repeats solution code"):
        build_starter_zip(course, load_spec(course, SLUG))


def test_leak_check_allows_lines_the_starter_legitimately_has(course: CourseLayout) -> None:
    """STARTER lines, code outside the blocks, docstrings and comments of the blocks may appear in the starter."""
    (course.starter_dir(SLUG) / "extra.py").write_text(
        "running_total_of_values = sum(values)\n"                                      # a `# STARTER:` line
        'message_shared_with_other_code = "values must be floats"\n'                  # also outside the block
        '"""Docstring text inside the solution that may repeat in the starter."""\n'  # docstring
        "# a comment inside the solution block that is long enough to count\n"       # comment
        "scaled_total_of_the_values = running_total_of_values * factor  # leak-ok\n"  # shipped on purpose
        'label = "scaled_total_of_the_values = running_total_of_values * factor  # not a comment"\n'
    )
    build_starter_zip(course, load_spec(course, SLUG))


# ---------------------------------------------------------------------------------------------- results schema
VALID = {
    "score": 3.5,
    "execution_time": 12.25,
    "output": "Graded 3 tests.",
    "output_format": "md",
    "test_output_format": "text",
    "test_name_format": "text",
    "visibility": "visible",
    "stdout_visibility": "hidden",
    "extra_data": {"seed": 1234},
    "tests": [
        {"name": "public: forward", "score": 2, "max_score": 2, "status": "passed", "number": "1.1",
         "output": "", "output_format": "text", "name_format": "text", "tags": ["forward"],
         "visibility": "visible", "extra_data": {"duration_s": 0.1}},
        {"name": "hidden: backward", "score": 1.5, "max_score": 3, "status": "failed", "visibility": "after_published"},
        {"name": "hidden: info", "score": 0, "max_score": 0, "status": "passed", "visibility": "hidden"},
    ],
    "leaderboard": [{"name": "Time", "value": 15.2, "order": "asc"}, {"name": "Stars", "value": "***"}],
}


def mutated(change) -> dict:
    data = copy.deepcopy(VALID)
    change(data)
    return data


def test_schema_accepts_a_valid_sample() -> None:
    validate_results(VALID)
    validate_results({"score": 0, "execution_time": 0, "tests": []})


@pytest.mark.parametrize("change, where, problem", [
    (lambda d: d["tests"][1].pop("status"), "tests[1]", "'status' is a required property"),
    (lambda d: d["tests"][0].update(visibility="public"), "tests[0].visibility", "is not one of"),
    (lambda d: d.update(visibility="everyone"), "visibility", "is not one of"),
    (lambda d: d["tests"][2].update(output="x" * 100_001), "tests[2].output", "over the limit of 100,000"),
    (lambda d: d.update(output="x" * 100_001), "output", "over the limit"),
    (lambda d: d.update(score=4), "score", "not the sum of the test scores"),
    (lambda d: d.pop("score"), "(top level)", "'score' is a required property"),
    (lambda d: d.pop("execution_time"), "(top level)", "'execution_time' is a required property"),
    (lambda d: d["tests"][0].update(visiblity="hidden"), "tests[0]", "unknown key"),
    (lambda d: d.update(scor=1), "(top level)", "unknown key"),
    (lambda d: d["tests"][0].update(number=1.1), "tests[0].number", "is not of type 'string'"),
    (lambda d: d["tests"][0].update(tags=[1]), "tests[0].tags[0]", "is not of type 'string'"),
    (lambda d: d["leaderboard"][0].update(order="up"), "leaderboard[0].order", "is not one of"),
    (lambda d: (d["tests"][1].update(score=3.5), d["tests"][0].update(score=0)), "tests[1]", "outside [0, max_score"),
    (lambda d: d["tests"][2].update(name="public: forward"), "tests[2]", "must be unique"),
])
def test_schema_rejects(change, where: str, problem: str) -> None:
    with pytest.raises(ResultsError) as caught:
        validate_results(mutated(change))
    message = str(caught.value)
    assert message.startswith(f"results.json: {where}"), message
    assert problem in message, message


def test_score_sum_tolerates_float_rounding() -> None:
    data = {"score": 0.3, "execution_time": 1, "tests": [
        {"name": "a", "score": 0.1, "max_score": 1, "status": "failed"},
        {"name": "b", "score": 0.2, "max_score": 1, "status": "failed"},
    ]}
    validate_results(data)
