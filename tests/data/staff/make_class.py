"""Generate a synthetic class for the toy course (tests/data/toycourse, assignment ``toy``) as a Gradescope export.

``make_class(folder)`` writes ``folder/submission_<id>/toy.py`` for 40 submissions and ``submission_metadata.yml``
as Gradescope's "Export Submissions" does, and returns a dict describing what was planted, so tests can check
grades, declarations and similarity against it:

- honest students (30): correct ``add``/``mul`` and five helper functions, each written in one of four styles;
  any two honest students share at most two helpers written the same way;
- partial (4 of the honest ones): ``mul`` wrong (12/15) or ``add`` wrong on negatives (partial credit);
- the starter, twice (0 points); broken: a syntax error, a misnamed file, an empty folder;
- two attacks: ``os.kill(-1, SIGKILL)`` from inside ``add`` (reaches every process of its grading account but
  itself: with slots, nothing of another run) and a daemon left running at import; both score 15 and must not
  disturb any other submission;
- three disguised copies of honest students: identifiers renamed, functions reordered, comments rewritten;
- declarations: ``# AI: ChatGPT`` with a transcript, ``# AI: Copilot`` with prompts, an acknowledgement, and a
  ChatGPT mention without the header (a policy gap); one group submission with two submitters; one name that
  a spreadsheet would run as a formula and one with HTML in it.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

HELPERS: dict[str, list[str]] = {
    "mean": [
        '''def mean(values):
    total = 0.0
    count = 0
    for value in values:
        total += value
        count += 1
    if count == 0:
        raise ValueError("mean of nothing")
    return total / count
''',
        '''def mean(values):
    items = list(values)
    return sum(items) / len(items) if items else float("nan")
''',
        '''def mean(values):
    index, acc = 0, 0
    seq = tuple(values)
    while index < len(seq):
        acc = acc + seq[index]
        index = index + 1
    return acc / max(len(seq), 1)
''',
        '''def mean(values):
    import statistics
    return statistics.fmean(values)
''',
    ],
    "variance": [
        '''def variance(values):
    centre = mean(values)
    squares = [(v - centre) ** 2 for v in values]
    return sum(squares) / len(squares)
''',
        '''def variance(values):
    n = 0
    s1 = 0.0
    s2 = 0.0
    for x in values:
        n += 1
        s1 += x
        s2 += x * x
    return s2 / n - (s1 / n) ** 2
''',
        '''def variance(values):
    data = list(values)
    m = sum(data) / len(data)
    return sum(map(lambda d: (d - m) * (d - m), data)) / len(data)
''',
        '''def variance(values):
    pairs = [(a - b) ** 2 for a in values for b in values]
    return sum(pairs) / (2 * len(values) ** 2)
''',
    ],
    "dot": [
        '''def dot(left, right):
    if len(left) != len(right):
        raise ValueError("lengths differ")
    result = 0
    for i in range(len(left)):
        result += left[i] * right[i]
    return result
''',
        '''def dot(left, right):
    return sum(a * b for a, b in zip(left, right, strict=True))
''',
        '''def dot(left, right):
    import operator
    from functools import reduce
    products = list(map(operator.mul, left, right))
    return reduce(operator.add, products, 0)
''',
        '''def dot(left, right):
    def step(i):
        return 0 if i < 0 else left[i] * right[i] + step(i - 1)
    return step(len(left) - 1)
''',
    ],
    "normalize": [
        '''def normalize(values):
    lo = min(values)
    hi = max(values)
    span = hi - lo
    if span == 0:
        return [0.0 for _ in values]
    return [(v - lo) / span for v in values]
''',
        '''def normalize(values):
    out = []
    smallest, largest = float("inf"), float("-inf")
    for v in values:
        smallest = v if v < smallest else smallest
        largest = v if v > largest else largest
    for v in values:
        out.append(0.0 if largest == smallest else (v - smallest) / (largest - smallest))
    return out
''',
        '''def normalize(values):
    ordered = sorted(values)
    low, high = ordered[0], ordered[-1]
    scale = 1.0 / (high - low) if high != low else 0.0
    return list(map(lambda v: (v - low) * scale, values))
''',
        '''def normalize(values):
    import numpy as np
    arr = np.asarray(values, dtype=float)
    rng = np.ptp(arr)
    return ((arr - arr.min()) / rng if rng else np.zeros_like(arr)).tolist()
''',
    ],
    "argmax": [
        '''def argmax(values):
    best_index = 0
    for i, v in enumerate(values):
        if v > values[best_index]:
            best_index = i
    return best_index
''',
        '''def argmax(values):
    return max(range(len(values)), key=values.__getitem__)
''',
        '''def argmax(values):
    pairs = sorted(((v, -i) for i, v in enumerate(values)), reverse=True)
    return -pairs[0][1]
''',
        '''def argmax(values):
    top = None
    where = -1
    position = 0
    while position < len(values):
        if top is None or values[position] > top:
            top, where = values[position], position
        position += 1
    return where
''',
    ],
}
ADD = '''def add(a, b):
    """Return the sum."""
    return a + b
'''
MUL = '''def mul(a, b):
    """Return the product."""
    return a * b
'''
STARTER = '''"""Toy reference solution."""


def add(a, b):
    # TODO: return the sum
    raise NotImplementedError("add")


def mul(a, b):
    # TODO: return the product
    raise NotImplementedError("mul")
'''
TRANSCRIPT = '''
# ---- ChatGPT transcript ----
# User: how do I compute the variance of a list in python without numpy?
# ChatGPT: You can compute the mean first, then average the squared differences from it.
# User: and normalise a list to [0, 1]?
# ChatGPT: Subtract the minimum and divide by the range (max - min); handle a zero range separately.
'''


def styles(count: int) -> list[tuple[int, ...]]:
    """``count`` style vectors over {0..3}^5, any two agreeing in at most two positions (picked greedily in a
    fixed order): two honest students share at most two helpers written the same way."""
    chosen: list[tuple[int, ...]] = []
    for vector in itertools.product(range(4), repeat=5):
        if all(sum(a == b for a, b in zip(vector, other)) <= 2 for other in chosen):
            chosen.append(vector)
        if len(chosen) == count:
            return chosen
    raise AssertionError(f"only {len(chosen)} style vectors")


def honest_source(style: tuple[int, ...], *, add: str = ADD, mul: str = MUL, header: str = "", footer: str = "") -> str:
    helpers = [HELPERS[name][choice] for name, choice in zip(HELPERS, style)]
    return header + '"""My toy solution."""\n\n\n' + add + "\n\n" + mul + "\n\n" + "\n\n".join(helpers) + footer


RENAMES = {"values": "xs", "total": "running", "count": "k", "centre": "mu", "squares": "sq", "left": "u",
           "right": "w", "result": "accum", "lo": "minimum", "hi": "maximum", "span": "width", "best_index": "winner",
           "items": "vals", "data": "arr", "ordered": "srt", "products": "prods", "out": "res", "mean": "average",
           "argmax": "index_of_max", "normalize": "rescale", "variance": "var", "dot": "inner"}


def disguise(source: str) -> str:
    """Rename identifiers, reverse the order of the helper functions, rewrite every comment and docstring."""
    head, *functions = re.split(r"\n(?=def )", source)
    first, rest = functions[:2], functions[2:]
    text = "\n".join([head] + first + list(reversed(rest)))
    for old, new in RENAMES.items():
        text = re.sub(rf"\b{old}\b", new, text)
    text = text.replace('"""Return the sum."""', "# adds them up").replace('"""Return the product."""', "# multiply")
    text = text.replace('"""My toy solution."""', '"""Homework submission, written from scratch."""')
    return text


def _yaml_person(name: str, sid: str, email: str) -> str:
    quote = lambda s: "'" + s.replace("'", "''") + "'"  # noqa: E731 - YAML single-quoted scalar
    return f"  - :name: {quote(name)}\n    :sid: {quote(sid)}\n    :email: {quote(email)}\n"


def make_class(folder: Path, only: set[str] | None = None) -> dict[str, Any]:
    """Write the class (or the submissions named in ``only``, e.g. {"submission_1000"}) as a Gradescope export;
    return what was planted (expected totals, kinds, submitters, copies) for those written."""
    folder.mkdir(parents=True, exist_ok=True)
    subs: dict[str, dict[str, Any]] = {}

    def put(sub_id: str, files: dict[str, str], expected: float | None, people: list[tuple[str, str, str]] | None = None,
            kind: str = "honest") -> None:
        n = len(subs) + 1
        subs[f"submission_{sub_id}"] = {"expected": expected, "kind": kind, "files": files,
                                        "people": people or [(f"Student {n:02d}", f"9{n:04d}", f"s{n:02d}@uni.edu")]}

    vectors = styles(30)
    for i, style in enumerate(vectors):
        sub_id = f"{1000 + i}"
        header, footer, expected = "", "", 15.0
        add, mul = ADD, MUL
        if i == 3:
            header, footer = "# AI: ChatGPT\n", TRANSCRIPT
        elif i == 4:
            header = "# AI: GitHub Copilot\n"
            mul = mul.replace('    """Return the product."""\n', '    """Return the product."""\n    # prompt: multiply a and b\n')
        elif i == 5:
            footer = "\n# Acknowledgement: I discussed the variance formula with Jane Roe (office hours).\n"
        elif i == 6:
            footer = "\n# I asked ChatGPT about normalize but did not copy its answer.\n"  # no header: a gap
        elif i in (7, 8):
            mul, expected = mul.replace("return a * b", "return a * b + 1"), 12.0  # mul wrong
        elif i in (9, 10):
            add = add.replace("return a + b", "return abs(a) + b")  # wrong for negative a: 1 of 4 partial cases
            expected = 14.0
        put(sub_id, {"toy.py": honest_source(style, add=add, mul=mul, header=header, footer=footer)}, expected)
    subs["submission_1002"]["people"] = [("Group Member A", "80001", "a@uni.edu"), ("Group Member B", "80002", "b@uni.edu")]
    subs["submission_1012"]["people"] = [("=HYPERLINK(\"http://x\")", "=1+1", "f@uni.edu")]
    subs["submission_1013"]["people"] = [("<script>alert(1)</script>", "70013", "h@uni.edu")]
    put("2000", {"toy.py": STARTER}, 0.0, kind="starter")
    put("2001", {"toy.py": STARTER.replace("# TODO", "# todo")}, 0.0, kind="starter")
    spare = styles(33)[30:]  # style vectors no honest student uses
    put("3000", {"toy.py": honest_source(spare[0]).replace("def mul(a, b):", "def mul(a, b)")}, 0.0, kind="broken")
    put("3001", {"toy_solution.py": honest_source(spare[1])}, 0.0, kind="broken")
    put("3002", {}, 0.0, kind="broken")
    put("4000", {"toy.py": ADD.replace("    return a + b", "    import os, signal\n    os.kill(-1, signal.SIGKILL)\n"
                                       "    return a + b") + "\n\n" + MUL}, 15.0, kind="attack")  # kill(-1) spares the caller: harmless
    put("4001", {"toy.py": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    while True:\n        time.sleep(0.05)\n"
                           + "\n\n" + ADD + "\n\n" + MUL}, 15.0, kind="attack")
    copies = {}
    for original, copy_id in (("1020", "5000"), ("1021", "5001"), ("1022", "5002")):
        source = subs[f"submission_{original}"]["files"]["toy.py"]
        put(copy_id, {"toy.py": disguise(source)}, 15.0, kind="copy")
        copies[f"submission_{copy_id}"] = f"submission_{original}"
    lines = []
    for n, (sub_id, info) in enumerate(sorted(subs.items())):
        if only is not None and sub_id not in only:
            continue
        (folder / sub_id).mkdir(parents=True, exist_ok=True)
        for name, text in info["files"].items():
            (folder / sub_id / name).write_text(text, encoding="utf-8")
        lines.append(f"{sub_id}:\n  :submitters:\n" + "".join(_yaml_person(*p) for p in info["people"])
                     + f"  :created_at: 2026-11-20 23:{n % 60:02d}:00.000000000 -08:00\n  :score: 0.0\n")
    (folder / "submission_metadata.yml").write_text("".join(lines), encoding="utf-8")
    if only is not None:
        subs = {k: v for k, v in subs.items() if k in only}
        copies = {k: v for k, v in copies.items() if k in only}
    return {"submissions": subs, "copies": copies}


if __name__ == "__main__":  # python tests/data/staff/make_class.py OUT_FOLDER
    import sys

    planted = make_class(Path(sys.argv[1]))
    print(f"{len(planted['submissions'])} submissions written to {sys.argv[1]}")


def make_course(folder: Path) -> Path:
    """A copy of the toy course for workflow tests: per-test limit raised from 5 s to 60 s (a class graded two at
    a time on a loaded 2-core machine must not fail on the clock: the runner's collection "silence" limit is
    the per-test limit), and a starter/toy folder (the similarity report's boilerplate)."""
    import shutil

    source = Path(__file__).resolve().parents[1] / "toycourse"
    shutil.copytree(source, folder, dirs_exist_ok=True)
    spec = folder / "assignments" / "toy" / "assignment.toml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("test_timeout_s = 5", "test_timeout_s = 60"), encoding="utf-8")
    (folder / "starter" / "toy").mkdir(parents=True, exist_ok=True)
    (folder / "starter" / "toy" / "toy.py").write_text(STARTER, encoding="utf-8")
    return folder
