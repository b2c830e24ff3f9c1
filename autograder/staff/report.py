"""report.html: where the class stands, for staff. Self-contained: plots are PNGs embedded as data URIs.

Sections: score histogram; pass rate per test (most failed first); the perf ratio distribution per perf test;
the slowest submissions; submissions that need a look (grader errors, missing sides); declared AI use and
acknowledgements. Everything from a submission is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from pathlib import Path
from typing import Any

from autograder.staff.collect import Graded, test_key


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display, no network
    import matplotlib.pyplot as plt

    return plt


def score_histogram(records: list[Graded]) -> str:
    plt = _pyplot()
    scores = [r.total for r in records if r.total is not None]
    top = max((r.max_total for r in records), default=0.0) or 1.0
    figure, axes = plt.subplots(figsize=(6, 3))
    bins = int(top) + 1 if top <= 50 else 25  # one bar per point when the total is small
    axes.hist(scores, bins=bins, range=(-0.5, top + 0.5) if top <= 50 else (0, top), color="#4c72b0", edgecolor="white")
    axes.set_xlabel(f"total score (of {top:g})")
    axes.set_ylabel("submissions")
    return _img(_png(figure), "score histogram")


def pass_rates(records: list[Graded]) -> list[tuple[str, float, int]]:
    """(test, share of graded submissions with full points, how many took it), most failed first."""
    counts: dict[str, list[int]] = {}
    for record in records:
        for test in record.tests:
            full = float(test.get("score", 0)) >= float(test.get("max_score", 0)) and test.get("status") == "passed"
            counts.setdefault(test_key(test), []).append(int(full))
    rates = [(name, sum(v) / len(v), len(v)) for name, v in counts.items() if v]
    return sorted(rates, key=lambda r: (r[1], r[0]))


def pass_rate_chart(rates: list[tuple[str, float, int]]) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 0.35 * len(rates) + 1))
    names = [name[:60] for name, _, _ in rates][::-1]
    axes.barh(names, [rate * 100 for _, rate, _ in rates][::-1], color="#55a868")
    axes.set_xlim(0, 100)
    axes.set_xlabel("% of submissions passing")
    return _img(_png(figure), "pass rate per test")


def perf_ratios(records: list[Graded]) -> dict[str, list[float]]:
    """Measured value (ratio to the reference) per perf check, over the class."""
    found: dict[str, list[float]] = {}
    for record in records:
        for test in record.tests:
            perf = (test.get("extra_data") or {}).get("perf") or {}
            value = perf.get("value")
            if isinstance(value, (int, float)) and value == value:
                found.setdefault(str(perf.get("name") or test_key(test)), []).append(float(value))
    return found


def perf_chart(name: str, values: list[float]) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 2.5))
    axes.hist(values, bins=min(30, max(5, len(values))), color="#c44e52", edgecolor="white")
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_xlabel(f"{name}: submission / reference")
    axes.set_ylabel("submissions")
    return _img(_png(figure), f"perf ratio distribution {name}")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _who(record: Graded) -> str:
    return ", ".join(p.get("name") or p.get("sid") or "?" for p in record.submitters) or record.id


def write_report(records: list[Graded], path: Path, title: str, notes: list[str] | None = None,
                 similarity_link: str | None = None) -> Path:
    graded = [r for r in records if r.results is not None]
    scores = [r.total or 0.0 for r in graded]
    top = max((r.max_total for r in graded), default=0.0)
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append(f"<p>{len(records)} submissions, {len(graded)} graded; median score "
                 f"{statistics.median(scores) if scores else 0:g} of {top:g}.</p>")
    for note in notes or []:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    if similarity_link:
        parts.append(f"<p>Similarity across submissions: <a href='{html.escape(similarity_link)}'>"
                     f"{html.escape(similarity_link)}</a></p>")
    parts.append("<h2>Scores</h2>" + (score_histogram(graded) if graded else "<p>nothing graded</p>"))
    rates = pass_rates(graded)
    if rates:
        parts.append("<h2>Pass rate per test (most failed first)</h2>" + pass_rate_chart(rates))
        parts.append(_table(["test", "passing", "of"], [[n, f"{r:.0%}", k] for n, r, k in rates]))
    perf = perf_ratios(graded)
    if perf:
        parts.append("<h2>Performance: ratio to the reference</h2>")
        for name, values in sorted(perf.items()):
            parts.append(f"<h3>{html.escape(name)}</h3>" + perf_chart(name, values)
                         + f"<p>median {statistics.median(values):.3f}, min {min(values):.3f}, max {max(values):.3f}, "
                         f"n = {len(values)}</p>")
    slow = sorted(graded, key=lambda r: -float((r.results or {}).get("execution_time", 0.0)))[:10]
    parts.append("<h2>Slowest submissions</h2>" + _table(
        ["submission", "who", "grading time (s)", "score"],
        [[r.id, _who(r), f"{float((r.results or {}).get('execution_time', 0.0)):.1f}", f"{r.total:g}"] for r in slow]))
    flagged = [r for r in records if r.flags]
    parts.append("<h2>Needs a look</h2>" + (_table(["submission", "who", "what happened"],
                                                   [[r.id, _who(r), "; ".join(r.flags)] for r in flagged])
                                            if flagged else "<p>nothing: every submission was graded normally</p>"))
    parts.append("<h2>Every submission</h2>" + _table(
        ["submission", "who", "score"], [[r.id, _who(r), f"{r.total:g}" if r.results is not None else "not graded"]
                                         for r in sorted(records, key=lambda r: r.id)]))
    declared = [r for r in records if r.honesty]
    parts.append("<h2>Honesty declarations (never scored)</h2>" + (_table(
        ["submission", "who", "declared"], [[r.id, _who(r), r.honesty] for r in declared])
        if declared else "<p>no submission declares AI use or help</p>"))
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1em;max-width:1100px}} table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px}} .note{{color:#8a5a00}}</style></head><body>
{''.join(parts)}
</body></html>""", encoding="utf-8")
    return path
