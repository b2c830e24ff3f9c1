"""Honesty declarations (course policy: `# AI: <system>` at the top, a chat's transcript at the end, Copilot
prompts kept, help acknowledged) and the similarity ranking on the synthetic class."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from autograder.staff import honesty
from autograder.staff.similarity import rank_pairs, write_report

REPO = Path(__file__).resolve().parents[1]


def _make_class() -> Any:
    spec = importlib.util.spec_from_file_location("make_class", REPO / "tests" / "data" / "staff" / "make_class.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _folder(tmp_path: Path, name: str, text: str, filename: str = "toy.py") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / filename).write_text(text)
    return folder


def test_declarations_found_and_gaps_named(tmp_path: Path) -> None:
    chat = honesty.read_declarations(_folder(tmp_path, "chat", "# AI: ChatGPT\ndef f():\n    return 1\n"
                                             "# User: write f\n# ChatGPT: def f(): return 1\n"))
    assert chat.ai_systems == ["ChatGPT"] and chat.files[0].transcript_lines == 2 and not chat.issues
    no_transcript = honesty.read_declarations(_folder(tmp_path, "bare", "# AI: Claude\ndef f():\n    return 1\n"))
    assert no_transcript.issues == ["toy.py: names a chat system but has no transcript at the end"]
    copilot = honesty.read_declarations(_folder(tmp_path, "copilot", "# AI: Copilot\n# prompt: add two numbers\n"
                                                "def add(a, b):\n    return a + b\n"))
    assert copilot.files[0].prompt_lines == 1 and not copilot.issues
    hidden = honesty.read_declarations(_folder(tmp_path, "hidden", "def f():\n    return 1\n"
                                               "# User: write f\n# Assistant: here it is\n"))
    assert "no `# AI: <system>` line at the top" in hidden.issues[0]
    helped = honesty.read_declarations(_folder(tmp_path, "help", "Thanks to Sam for help with the loop.\n"
                                               "Adapted from https://example.org/answer\n", "ACKNOWLEDGEMENTS.txt"))
    assert helped.acknowledgements and helped.files[0].urls == ["https://example.org/answer"]
    none = honesty.read_declarations(_folder(tmp_path, "none", "# AI: none\ndef f():\n    return 1\n"))
    assert none.summary() == "AI: none declared" and not none.issues
    assert honesty.read_declarations(tmp_path / "absent").summary() == ""


def test_results_entry_is_hidden_worth_nothing_and_leaves_the_score(tmp_path: Path) -> None:
    results = {"score": 7.0, "execution_time": 1.0, "tests": [{"name": "t", "score": 7.0, "max_score": 10.0, "status": "failed"}]}
    honesty.add_to_results(results, _folder(tmp_path, "s", "# AI: ChatGPT\nx = 1\n# User: hi\n# ChatGPT: hello\n"))
    entry = results["tests"][-1]
    assert results["score"] == 7.0 and entry["visibility"] == "hidden"
    assert entry["score"] == entry["max_score"] == 0 and "ChatGPT" in entry["output"]
    from autograder.results_schema import validate_results

    validate_results(results)


def test_check_reminds_once(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = honesty.check_reminder("a1_execution_modes")
    assert first is not None and "# AI: ChatGPT" in first and "\n" not in first
    assert honesty.check_reminder("a1_execution_modes") is None


def test_disguised_copies_rank_above_every_honest_pair(tmp_path: Path) -> None:
    mod = _make_class()
    planted = mod.make_class(tmp_path / "class")
    starter = tmp_path / "starter"
    starter.mkdir()
    (starter / "toy.py").write_text(mod.STARTER)
    folders = {p.name: p for p in (tmp_path / "class").iterdir() if p.is_dir()}
    pairs = rank_pairs(folders, ["toy.py"], starter)
    copies = {frozenset((copy, original)) for copy, original in planted["copies"].items()}
    copy_scores = [p.score for p in pairs if frozenset((p.a, p.b)) in copies]
    other = [p for p in pairs if frozenset((p.a, p.b)) not in copies]
    assert len(copy_scores) == 3 and min(copy_scores) > max(p.score for p in other), (
        copy_scores, [(p.a, p.b, round(p.score, 2)) for p in other[:3]])
    assert {frozenset((p.a, p.b)) for p in pairs[:3]} == copies
    starters = next(p for p in pairs if {p.a, p.b} == {"submission_2000", "submission_2001"})
    assert starters.score == 0  # the starter is boilerplate: two untouched starters share nothing
    report = write_report(pairs, tmp_path / "similarity.html", "toy")
    text = report.read_text()
    assert text.count("<div class='pair'>") == 10 and "<mark>" in text and "http" not in text.replace("<!doctype html>", "")
