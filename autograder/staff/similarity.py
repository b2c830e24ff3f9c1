"""Similarity across submissions: MOSS-style winnowing (``copydetect``), the starter code as boilerplate.

copydetect tokenises each file (identifiers, strings and comments normalised away, so renaming and comment
changes do not hide a copy) and keeps a winnowed set of k-gram fingerprints (order-free, so reordering functions
does not either). Fingerprints that occur in the starter are discarded: code every student was given is not
evidence. Pairs are ranked by the larger of the two overlap fractions (a copy padded with extra code still
ranks high); the top pairs are shown side by side with the shared code highlighted.

A high rank is a reason for a person to look, never a verdict.
"""

from __future__ import annotations

import html
import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOISE_T = 25  # copydetect's defaults: matches shorter than this many tokens are ignored ...
GUARANTEE_T = 30  # ... and matches this long are always found (window = guarantee - noise + 1)
MAX_BYTES = 256 * 1024


@dataclass
class Pair:
    a: str
    b: str
    similarity_a: float  # fraction of a's fingerprinted tokens also in b
    similarity_b: float
    tokens: int  # overlapping tokens
    highlighted: tuple[str, str] = ("", "")

    @property
    def score(self) -> float:
        return max(self.similarity_a, self.similarity_b)


def _source(folder: Path, files: list[str]) -> str:
    """The submission's graded Python files, concatenated in spec order (one document per submission)."""
    parts = []
    for name in files:
        path = folder / name
        if name.endswith(".py") and path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_BYTES:
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n\n".join(parts)


def _fingerprint(code: str, boilerplate: list[int] | None = None) -> Any:
    from copydetect import CodeFingerprint

    return CodeFingerprint("submission.py", NOISE_T, GUARANTEE_T - NOISE_T + 1, boilerplate=boilerplate or [],
                           fp=io.StringIO(code))


def rank_pairs(submissions: dict[str, Path], files: list[str], starter: Path | None, top: int = 20) -> list[Pair]:
    """Every pair of submissions, most similar first; the ``top`` pairs carry highlighted sources."""
    import numpy as np
    from copydetect import compare_files
    from copydetect.utils import highlight_overlap

    boilerplate = list(_fingerprint(_source(starter, files)).hashes) if starter is not None and starter.is_dir() else []
    prints = {}
    for key, folder in sorted(submissions.items()):
        code = _source(folder, files)
        if code.strip():
            try:
                prints[key] = _fingerprint(code, boilerplate)
            except Exception:  # noqa: BLE001 - an untokenisable file is simply not compared
                continue
    pairs = []
    shared: dict[tuple[str, str], tuple[Any, Any]] = {}  # where the shared code is, in each raw source
    for a, b in itertools.combinations(sorted(prints), 2):
        tokens, (sim_a, sim_b), slices = compare_files(prints[a], prints[b])
        pairs.append(Pair(a, b, float(sim_a), float(sim_b), int(tokens)))
        shared[(a, b)] = slices
    pairs.sort(key=lambda p: (-p.score, -p.tokens, p.a, p.b))
    for pair in pairs[:top]:
        texts = []
        for key, slices in zip((pair.a, pair.b), shared[(pair.a, pair.b)]):
            code = prints[key].raw_code
            if len(slices) and np.asarray(slices).size:
                marked, _ = highlight_overlap(code, np.asarray(slices), "<mark>", "</mark>", escape_html=True)
            else:
                marked = html.escape(code)
            texts.append(marked)
        pair.highlighted = (texts[0], texts[1])
    return pairs


def write_report(pairs: list[Pair], path: Path, title: str, top: int = 10) -> Path:
    """similarity.html: the ranked table, then the top pairs side by side (no scripts, no network)."""
    rows = "\n".join(f"<tr><td>{i + 1}</td><td>{html.escape(p.a)}</td><td>{html.escape(p.b)}</td>"
                     f"<td>{p.score:.0%}</td><td>{p.similarity_a:.0%} / {p.similarity_b:.0%}</td><td>{p.tokens}</td></tr>"
                     for i, p in enumerate(pairs[:200]))
    sides = "\n".join(
        f"<h2 id='pair-{i + 1}'>{i + 1}. {html.escape(p.a)} ↔ {html.escape(p.b)} ({p.score:.0%})</h2>"
        f"<div class='pair'><pre>{p.highlighted[0]}</pre><pre>{p.highlighted[1]}</pre></div>"
        for i, p in enumerate(pairs[:top]) if p.highlighted[0])
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 6px}}
.pair{{display:flex;gap:1em}} .pair pre{{flex:1;overflow:auto;border:1px solid #ccc;padding:4px;font-size:12px}}
mark{{background:#ffd54f}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Pairs ranked by shared code (MOSS-style winnowing with copydetect; the starter code is ignored). Similarity is the
share of a submission's fingerprinted code also found in the other; a high rank is a reason to look, not a verdict.</p>
<table><tr><th>#</th><th>submission</th><th>submission</th><th>similarity</th><th>each side</th><th>shared tokens</th></tr>
{rows}</table>
{sides}
</body></html>""", encoding="utf-8")
    return path
