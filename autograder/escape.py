"""Make text that came from a student safe to show: in results.json, in the Markdown summary, in a terminal.

Everything a student's process or upload produces (exception messages, printed output, file names, frames,
leaderboard values) is data. Before it is shown it goes through one of these functions, chosen by where it
lands:

- :func:`strip_control` for plain-text fields (per-test ``output``, which results.json marks ``text``):
  removes ANSI/OSC escape sequences (colours, OSC-8 hyperlinks, terminal title changes), other C0/C1 control
  characters, DEL and bidirectional overrides, keeps ``\\n`` and ``\\t``, and replaces characters that cannot
  be encoded (lone surrogates) so ``json.dumps(...).encode()`` never fails;
- :func:`one_line` for names (test names, file names): the same, on a single line, cut to a length;
- :func:`for_markdown` for student text inside the Markdown summary: one line, every Markdown and HTML
  character backslash-escaped, so links, images, raw HTML, emphasis, headings and table cells cannot be forged;
- :func:`code` for a name shown as an inline code span inside trusted Markdown (notes about submitted files);
- :func:`frames` to validate the traceback lines a student's process reports (a list of short strings);
- :func:`encodable` as the last line of defence of ``write_results``: any JSON-like value made writable.
"""

from __future__ import annotations

import math
import re
from typing import Any

# Escape sequences, in their 7-bit (ESC ...) and 8-bit (C1 introducer) forms: CSI (ESC [ / 0x9b ... final byte),
# OSC (ESC ] / 0x9d ... BEL or ST), DCS/SOS/PM/APC strings (ESC P X ^ _ / 0x90 0x98 0x9e 0x9f ... ST), and
# two-character escapes (ESC followed by one byte). Removed whole, so no parameter text is left behind.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"                       # CSI
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"     # OSC: OSC-8 hyperlinks, window titles
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC
    r"|\x1b[\x20-\x7e]?"                                      # any other escape
)
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROL = {c: None for c in [*range(0x00, 0x20), 0x7f, *range(0x80, 0xa0)]}
_CONTROL.update({ord(c): None for c in _BIDI})
# Backslash-escapable in CommonMark (any ASCII punctuation may be escaped); these are the ones with meaning.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&:\"'=$^])")


def _encodable_text(text: str) -> str:
    """``text`` with every character UTF-8 cannot encode (a lone surrogate) replaced by one U+FFFD; a surrogate
    pair (as JSON's ``\\ud83d\\ude00`` decodes) becomes the character it stands for."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def strip_control(text: Any, keep: str = "\n\t") -> str:
    """Printable text: escape sequences and control characters removed (``keep`` stays), encodable as UTF-8.

    ``\\r`` is removed too: in a terminal it rewinds the line, so text after it could overwrite what came before.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = _ESCAPE_SEQUENCE.sub("", _encodable_text(text))
    table = {k: v for k, v in _CONTROL.items() if chr(k) not in keep} if keep else _CONTROL
    return text.translate(table)


def one_line(text: Any, limit: int = 200) -> str:
    """A name or a hint on one line: whitespace runs (newlines included) become one space; cut to ``limit``."""
    flat = " ".join(strip_control(text, keep="\n\t\r").split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def for_markdown(text: Any, limit: int = 200) -> str:
    """Student text inside the Markdown summary: one line, every character with Markdown or HTML meaning escaped.

    A backslash before ASCII punctuation makes it literal in CommonMark, so ``[x](y)``, ``![x](y)``,
    ``<img onerror=...>``, ``**``, ``#`` and ``|`` (a table cell) are shown as typed instead of rendered.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text, limit))


def code(text: Any, limit: int = 100) -> str:
    """``text`` as an inline code span (backticks included): nothing inside one is rendered, and backticks,
    which could close it early, are replaced by a look-alike."""
    return "`" + one_line(text, limit).replace("`", "\u02cb") + "`"


def frames(value: Any, limit: int = 20, width: int = 300) -> list[str]:
    """Traceback lines reported by a student's process, validated: a list of at most ``limit`` short strings.

    Anything else (a number, a dict, a list of lists, very long lines) is data, never structure: non-strings
    are dropped, lines are cut to ``width`` and cleaned; the innermost ``limit`` lines are kept.
    """
    if not isinstance(value, (list, tuple)):
        return []
    kept = [item for item in list(value[-limit * 4:]) if isinstance(item, str)]
    return [strip_control(line, keep="")[:width] for line in kept[-limit:]]


def encodable(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON-like ``value`` that ``json.dumps(allow_nan=False)`` writes and UTF-8 encodes: lone
    surrogates replaced, non-finite numbers and unknown objects turned into strings, keys made strings."""
    if depth > 100:
        return "(nested too deeply)"
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return _encodable_text(value)
    if isinstance(value, dict):
        return {_encodable_text(str(k)): encodable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encodable(v, depth + 1) for v in value]
    try:
        return _encodable_text(str(value))[:2000]
    except Exception:  # noqa: BLE001 - a hostile __str__
        return f"(a {type(value).__name__} that could not be shown)"
