"""Nothing a student writes reaches the Markdown summary, the test outputs or a TA's terminal as markup or control
sequences, and results.json is written whatever a test's output contains (issue 9, sections 2 and 4).

The unit tests pin :mod:`autograder.escape`; one toy grading runs a submission whose messages, printed output,
file names and reported frames are hostile, and checks results.json, its rendered summary and the terminal report.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from autograder import escape
from autograder.grading import grade
from autograder.report import print_results
from autograder.results import write_results
from autograder.results_schema import validate_results
from autograder.spec import AssignmentSpec

MARKUP = ("[click here](https://evil.example/regrade) ![x](https://evil.example/x.png) "
          "<img src=x onerror=alert(1)> \x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ "
          "\x1b[31mred\x1b[0m [/] [bold]b[/bold] [link=https://evil.example]rich link[/link]\r\n## All 58 tests passed")
FORGED_NAME = "notes\n## All 58 tests passed\n<img src=x onerror=alert(1)>.txt"
TOY_ROOT = Path(__file__).resolve().parent / "data" / "toycourse"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def render(markdown: str) -> str:
    """The summary as a CommonMark renderer with raw HTML enabled shows it (Gradescope renders ``md`` outputs)."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


# ------------------------------------------------------------------------------------------------ escape unit tests
def test_strip_control_removes_escape_sequences_and_controls_but_keeps_newlines_and_tabs() -> None:
    text = "a\x1b[31mred\x1b[0m\tb\nc\x1b]8;;https://x\x1b\\link\x1b]8;;\x07\x07\x00\r\x9b2J\u202eevil\x7f"
    assert escape.strip_control(text) == "ared\tb\nclinkevil"
    assert escape.strip_control("x\ty\nz", keep="") == "xyz"
    assert escape.strip_control(None) == "" and escape.strip_control(42) == "42"


def test_strip_control_makes_lone_surrogates_encodable() -> None:
    cleaned = escape.strip_control("before \ud800 after")
    cleaned.encode("utf-8")
    assert cleaned == "before \ufffd after"


def test_one_line_and_code_cannot_break_out() -> None:
    assert escape.one_line(FORGED_NAME) == "notes ## All 58 tests passed <img src=x onerror=alert(1)>.txt"
    assert escape.one_line("x" * 500, 10) == "x" * 9 + "…"
    assert escape.code("a`b\nc") == "`a\u02cbb c`"


def test_for_markdown_shows_links_images_html_and_headings_as_typed() -> None:
    html = render("Start " + escape.for_markdown(MARKUP, 1000) + " end")
    assert "<a " not in html and "<img" not in html and "<h2" not in html and "<strong" not in html
    assert "click here" in html and "onerror" in html  # shown, as text
    cell = render("| a | b |\n|---|---|\n| " + escape.for_markdown("x | y") + " | z |\n")
    assert cell.count("<td>") == 2, cell  # a pipe in student text does not open a third cell


@pytest.mark.parametrize("value, expected", [
    ([1, {"a": 2}, None, ["x"], "  File \"toy.py\", line 1"], ["  File \"toy.py\", line 1"]),
    (12345, []), ("a string", []), ({"frames": ["x"]}, []), (None, []),
    (["y" * 5000], ["y" * 300]), ([f"line {i}" for i in range(100)], [f"line {i}" for i in range(80, 100)]),
    (["tab\there\x1b[2J"], ["tabhere"]),
], ids=["mixed-list", "int", "str", "dict", "none", "long-line", "too-many", "controls"])
def test_frames_are_validated_not_trusted(value: Any, expected: list[str]) -> None:
    assert escape.frames(value) == expected


def test_write_results_survives_unencodable_values(tmp_path: Path) -> None:
    """Issue 9 §2: a lone surrogate (or a NaN, or an object) anywhere used to crash the write, leaving a 0-byte .tmp."""
    path = tmp_path / "results" / "results.json"
    document = {"score": 1.0, "execution_time": 0.5, "output": "bad \udcff", "output_format": "md", "tests": [
        {"name": "t \ud800", "score": 1.0, "max_score": 1.0, "status": "passed", "output": "o \ud83d",
         "extra_data": {"value": float("nan"), "object": object(), "\udc80key": 1}}]}
    write_results(document, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]
    written = json.loads(path.read_bytes())
    assert written["tests"][0]["name"] == "t \ufffd" and written["output"] == "bad \ufffd"
    assert written["tests"][0]["extra_data"]["value"] == "nan"


# ------------------------------------------------------------------------------------------------ one hostile grade
HOSTILE_TOY = r'''
import os, sys

MARKUP = __MARKUP__


def _in_worker():
    return "--requests" in sys.argv


def _report_odd_frames():
    """Make the worker report frames that are not a list of strings, as a hostile module can."""
    server = getattr(sys.modules.get("__main__"), "Server", None)
    if server is None:
        return
    original = server.describe

    def describe(self, exc):
        described = original(self, exc)
        if "frames-list" in str(exc):
            described["frames"] = [1, {"a": 2}, None, ["x"], '  File "toy.py", line 1, in add\x1b[31m']
            described["builtin_bases"] = [7, ["ValueError"]]
        elif "frames-int" in str(exc):
            described["frames"] = 12345
        return described
    server.describe = describe


def _deep_chain(levels=1500):
    """A folder chain deeper than Python's recursion limit (1000), left in the work folder for the clean-up."""
    start = os.getcwd()
    try:
        for _ in range(levels):
            os.mkdir("d")
            os.chdir("d")
    finally:
        os.chdir(start)


if _in_worker():
    _report_odd_frames()
    _deep_chain()


def add(a, b):
    if (a, b) == (2, 3):
        print(MARKUP)
        raise ValueError(MARKUP)
    if (a, b) == (0, 0):
        raise ValueError("lone surrogate: \ud800 end")
    if (a, b) == (1, 1):
        raise ValueError("frames-list")
    if a == 424000:
        raise ValueError("frames-int")
    return a + b


def mul(a, b):
    import torch

    return torch.tensor([float(a * b)]).to_sparse()
'''


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from autograder.layout import CourseLayout
    from autograder.spec import load_spec

    spec: AssignmentSpec = load_spec(CourseLayout(TOY_ROOT), "toy")
    folder = tmp_path_factory.mktemp("hostile") / "submission"
    folder.mkdir()
    (folder / "toy.py").write_text(HOSTILE_TOY.replace("__MARKUP__", repr(MARKUP)))
    (folder / FORGED_NAME).write_text("hello")
    results = grade(spec, folder)
    path = tmp_path_factory.mktemp("results") / "results.json"
    write_results(results, path)
    return json.loads(path.read_bytes())


def by_function(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["extra_data"]["nodeid"].split("::")[-1]: t for t in results["tests"]}


@pytest.mark.slow
def test_hostile_submission_still_gets_complete_results(hostile_run: dict[str, Any]) -> None:
    validate_results(hostile_run)
    tests = by_function(hostile_run)
    assert set(tests) == {"test_add", "test_mul", "test_partial", "test_marker", "test_hidden_add"}
    assert all(t["status"] == "failed" for t in tests.values()), {k: t["output"][:200] for k, t in tests.items()}
    assert "lone surrogate: \ufffd end" in tests["test_marker"]["output"]
    assert "frames-list" in tests["test_partial"]["output"]
    assert 'File "toy.py", line 1, in add' in tests["test_partial"]["output"]  # the one string frame, cleaned
    assert "A hidden test failed" in tests["test_hidden_add"]["output"]


@pytest.mark.slow
def test_sparse_tensor_is_refused_with_a_reason_not_a_crash(hostile_run: dict[str, Any]) -> None:
    output = by_function(hostile_run)["test_mul"]["output"]
    assert "sparse" in output and "to_dense" in output, output
    assert "sys.exit" not in output and "exited with code" not in output, output


@pytest.mark.slow
def test_summary_and_outputs_carry_no_student_markup(hostile_run: dict[str, Any]) -> None:
    html = render(hostile_run["output"])
    assert html.count("<h2>") == 1, html  # the title only: no forged "## All 58 tests passed"
    assert "<img" not in html and "<a " not in html, html
    assert "All 58 tests passed" in html  # the file name is still shown, as text
    for test in hostile_run["tests"]:
        assert not CONTROL.search(test["output"]), (test["name"], test["output"][:300])
        assert not CONTROL.search(test["name"]) and "\n" not in test["name"]
    assert not CONTROL.search(hostile_run["output"].replace("\n", ""))


@pytest.mark.slow
def test_terminal_report_shows_student_text_as_typed(hostile_run: dict[str, Any]) -> None:
    """rich used to raise MarkupError on ``[/]`` and to apply ``[link=...]`` from student text."""
    stream = io.StringIO()
    console = Console(file=stream, width=200, force_terminal=False, color_system=None)
    print_results(console, hostile_run, "toy ← [/] hostile", details=True)
    shown = stream.getvalue()
    assert "[/]" in shown and "[link=https://evil.example]" in shown
    assert "\x1b" not in shown


# ------------------------------------------------------------------------------------------------ leaderboard-only
LEADERBOARD_TESTS = '''
from gradescope_utils.autograder_utils.decorators import leaderboard, weight


@leaderboard("sum")
def test_board(submission, set_leaderboard_value=None):
    """leaderboard: sum of 2 and 3"""
    set_leaderboard_value(submission.toy.add(2, 3))


@leaderboard("broken")
def test_board_fails(submission, set_leaderboard_value=None):
    """leaderboard: a value the test cannot compute"""
    raise AssertionError("no value this time")


@weight(1)
@leaderboard("weighted")
def test_board_with_points(submission, set_leaderboard_value=None):
    """leaderboard with points"""
    set_leaderboard_value(1.5)
'''


@pytest.mark.slow
def test_leaderboard_only_tests_go_to_the_leaderboard_only(tmp_path: Path,
                                                           toy_submission: Callable[..., Path]) -> None:
    """Like gradescope-utils' JSONTestRunner: a passing @leaderboard test without a weight is not a 0/0 "passed"
    entry in tests; one that fails stays listed (so the student sees why), and one with points keeps them."""
    from autograder.layout import CourseLayout
    from autograder.spec import load_spec

    course = tmp_path / "course"
    shutil.copytree(TOY_ROOT, course)
    (course / "assignments" / "toy" / "tests" / "public" / "test_board.py").write_text(LEADERBOARD_TESTS)
    spec = load_spec(CourseLayout(course), "toy")
    results = grade(spec, toy_submission(), folders=("public",))
    tests = by_function(results)
    assert "test_board" not in tests
    assert tests["test_board_fails"]["status"] == "failed" and tests["test_board_fails"]["max_score"] == 0
    assert tests["test_board_with_points"]["score"] == 1
    board = {entry["name"]: entry["value"] for entry in results["leaderboard"]}
    assert board == {"sum": 5, "weighted": 1.5}
    assert results["extra_data"]["leaderboard_only_tests"] == ["tests/public/test_board.py::test_board"]
    validate_results(results)
