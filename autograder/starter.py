"""Generate ``starter/<slug>/`` from ``reference/<slug>/``, so an assignment has one source of truth.

Instructors write the complete solution and mark the parts students must write with solution blocks::

    def relu_backward(grad_output, x):
        # BEGIN SOLUTION: multiply the incoming gradient by the mask where x > 0
        return grad_output * (x > 0)
        # END SOLUTION

In the starter, each block (markers included) becomes one line at the BEGIN line's indentation::

        raise NotImplementedError("relu_backward: multiply the incoming gradient by the mask where x > 0")

The prefix is the dotted name of the enclosing functions and classes (``Linear.forward``), so a student who
hits the error in a traceback knows which of the many ``forward`` methods is meant; a module-level block has
no prefix, and a block without a hint says ``not implemented yet (see the handout)``.  ``# STARTER: <code>``
lines inside a block replace the raise with scaffolding (``<code>`` is placed at the indentation of the ``#``;
an empty ``# STARTER:`` yields nothing, and a block whose STARTER lines are all empty becomes ``pass``).

Markers are recognised only in real comment lines (found with :mod:`tokenize`), never inside strings, and a
comment that merely resembles a marker (``# begin solution``, ``# END SOLUTIONS``) is refused: a misspelt
marker would otherwise ship the solution to students.  Every generated file is compiled, because a block that
removes half a bracket would otherwise only show up when students import the starter.

Other rules: a reference file whose first line is ``# REFERENCE ONLY`` is not copied; files without blocks and
non-``.py`` files are copied unchanged; ``__pycache__``, dotfiles and ``*.pyc`` are skipped.  Files that had
blocks get a fixed first-line header (no timestamp), so generating twice gives identical bytes and CI can
compare ``starter/`` with what the generator would write (:func:`stale_starter_files`).
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import tokenize
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import AutograderError

HEADER = "# Starter code for {slug}. Replace each NotImplementedError with your implementation."
DEFAULT_HINT = "not implemented yet (see the handout)"
REFERENCE_ONLY = "# REFERENCE ONLY"

# Whole-comment forms (the comment text, from its ``#`` to the end of the line, trailing spaces removed).
_BEGIN = re.compile(r"#\s*BEGIN\s+SOLUTION(?:\s*:(?P<colon_hint>.*)|\s+(?P<hint>.*))?")
_END = re.compile(r"#\s*END\s+SOLUTION(?:\s.*)?")
_STARTER = re.compile(r"#\s*STARTER:(?P<code>.*)")
# Comments close enough to a marker that they were almost certainly meant as one.
_LOOKALIKE = re.compile(r"#\s*(?:(?i:begin|end)[\s_-]*(?i:solution)|STARTER\b)")
_CODING = re.compile(r"[ \t\f]*#.*?coding[:=]")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")


@dataclass
class _Block:
    """One ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block; line numbers are 1-based."""

    begin: int
    indent: str
    hint: str
    end: int = 0
    starter: list[tuple[int, str]] = field(default_factory=list)  # (line, code at its indentation, or "")


def render_starter(source: str, filename: str) -> str:
    """The starter version of one reference ``.py`` file (without the header that :func:`generate_starter` adds).

    ``filename`` is only used in error messages, which name ``filename:line`` and the fix.  Raises
    :class:`AutograderError` for malformed markers, for a reference that is not valid Python and for a result
    that is not valid Python.  A source without blocks is returned unchanged.
    """
    return _render(source, filename)[0]


def solution_block_count(source: str, filename: str = "<source>") -> int:
    """How many solution blocks ``source`` has; verification tools use it to check that every reference file
    meant to have work for students has some (and that the starter has as many NotImplementedErrors).

    Raises :class:`AutograderError` for malformed markers, exactly as generation would.
    """
    return len(_parse_blocks(source, filename))


def solution_spans(source: str, filename: str = "<source>") -> list[tuple[int, int, list[str]]]:
    """``(begin line, end line, STARTER code lines)`` of every solution block, as generation finds them.

    The leak check (:mod:`autograder.packaging`) reads the reference through this, so the security backstop
    sees exactly the blocks the generator strips. Raises :class:`AutograderError` for malformed markers.
    """
    return [(block.begin, block.end, [code.strip() for _, code in block.starter if code.strip()])
            for block in _parse_blocks(source, filename)]


def generate_starter(reference_dir: Path, *, slug: str) -> dict[str, str]:
    """Every starter file for ``slug``, as relative POSIX path → text, in sorted path order.

    Nothing is written, so a refusal (bad marker, invalid result, non-text file) leaves ``starter/`` as it was.
    """
    if not reference_dir.is_dir():
        raise AutograderError(f"{reference_dir}: no reference solution folder for {slug!r}; "
                              f"create it with the reference solution files")
    result: dict[str, str] = {}
    for rel, path in _tree_files(reference_dir):
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise AutograderError(f"{path}: is not UTF-8 text, and the starter generator copies text files only; "
                                  "convert it to UTF-8 text or ship it to students another way") from None
        if _is_reference_only(text):
            continue
        if rel.endswith(".py"):
            rendered, blocks = _render(text, str(path))
            result[rel] = _add_header(rendered, slug) if blocks else rendered
        else:
            result[rel] = text
    return result


def write_starter(reference_dir: Path, starter_dir: Path, *, slug: str) -> list[Path]:
    """Make ``starter_dir`` hold exactly the generated starter; return the paths written.

    Files in ``starter_dir`` that the generator no longer produces are deleted (files only: folders are left,
    and ``__pycache__`` and dotfiles such as ``.gitkeep`` are neither deleted nor reported).  Nothing outside
    ``starter_dir`` is written or deleted: a symlink in the way is replaced by a plain file, and a path that
    leads out of ``starter_dir`` through a symlinked folder is refused before anything changes.
    """
    reference_root, starter_root = reference_dir.resolve(), starter_dir.resolve()
    if (reference_root == starter_root or reference_root.is_relative_to(starter_root)
            or starter_root.is_relative_to(reference_root)):
        raise AutograderError(f"{starter_dir}: the starter folder overlaps the reference folder {reference_dir}, "
                              "so writing it would overwrite the solution; use separate folders")
    files = generate_starter(reference_dir, slug=slug)
    for rel in files:
        target = starter_dir / rel
        if not target.parent.resolve().is_relative_to(starter_root):
            raise AutograderError(f"{target}: leads outside {starter_dir} through a symlinked folder; "
                                  "replace the symlink with a real folder")
        if target.is_dir() and not target.is_symlink():
            raise AutograderError(f"{target}: is a folder, but the reference has a file of that name; "
                                  "remove the folder and generate again")
    starter_dir.mkdir(parents=True, exist_ok=True)
    for rel, path in _tree_files(starter_dir):
        if rel not in files:
            path.unlink()
    written: list[Path] = []
    for rel, content in files.items():
        target = starter_dir / rel
        if target.is_symlink():
            target.unlink()  # write a file here, never through the link into whatever it points at
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8"))
        written.append(target)
    return written


def stale_starter_files(reference_dir: Path, starter_dir: Path, *, slug: str) -> list[str]:
    """Relative paths (sorted) where ``starter_dir`` differs from what :func:`write_starter` would write:
    changed, missing or extra files.  Empty when the starter is up to date; CI fails otherwise, so students
    never get a starter generated from an older reference.
    """
    expected = generate_starter(reference_dir, slug=slug)
    existing = dict(_tree_files(starter_dir)) if starter_dir.is_dir() else {}
    stale = set(existing) - set(expected)
    for rel, content in expected.items():
        path = existing.get(rel)
        if path is None or path.is_symlink() or path.read_bytes() != content.encode("utf-8"):
            stale.add(rel)
    return sorted(stale)


# --- parsing and rendering ----------------------------------------------------------------------------------


def _render(source: str, filename: str) -> tuple[str, int]:
    """(starter text, number of blocks)."""
    tree = _parse_python(source, filename)
    blocks = _parse_blocks(source, filename)
    if not blocks:
        return source, 0
    scopes = _statement_scopes(tree)
    lines = _LINE.findall(source)
    out: list[str] = []
    origin: list[int] = []  # reference line number of each output line, for error messages
    done = 0
    for block in blocks:
        out.extend(lines[done:block.begin - 1])
        origin.extend(range(done + 1, block.begin))
        if block.starter:
            replacement = [(line, code) for line, code in block.starter if code]
            if not replacement:
                replacement = [(block.begin, block.indent + "pass")]
        else:
            name = _enclosing_name(scopes, block.begin, len(block.indent))
            message = f"{name}: {block.hint}" if name else block.hint
            replacement = [(block.begin, f"{block.indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})")]
        newline, last_newline = _ending(lines[block.begin - 1]), _ending(lines[block.end - 1])
        for i, (line, code) in enumerate(replacement):
            out.append(code + (last_newline if i == len(replacement) - 1 else newline))
            origin.append(line)
        done = block.end
    out.extend(lines[done:])
    origin.extend(range(done + 1, len(lines) + 1))
    starter = "".join(out)
    try:
        _compile(starter, filename)
    except SyntaxError as exc:
        at = min(max(exc.lineno or 1, 1), len(origin)) if origin else 1
        line = origin[at - 1] if origin else 1
        raise AutograderError(
            f"{filename}:{line}: the starter generated from this file is not valid Python ({exc.msg}, starter line "
            f"{exc.lineno}); move the solution markers or add `# STARTER:` lines so the code left around each "
            f"block still parses") from None
    return starter, len(blocks)


def _parse_python(source: str, filename: str) -> ast.Module:
    """Parse the reference; the starter can only be valid if the reference is, and the tree gives the names."""
    try:
        _compile(source, filename)
        return ast.parse(source, filename)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        detail = getattr(exc, "msg", None) or str(exc)
        raise AutograderError(f"{filename}:{line}: the reference is not valid Python ({detail}); "
                              "fix it so the reference solution runs") from None


def _compile(source: str, filename: str) -> None:
    with warnings.catch_warnings():  # e.g. SyntaxWarning for "\d": not ours to report, and must not fail CI
        warnings.simplefilter("ignore")
        compile(source, filename, "exec", dont_inherit=True)


def _comment_lines(source: str, filename: str) -> dict[int, tuple[str | None, str]]:
    """Line → (indentation, comment text) for every comment; indentation is None for a comment after code."""
    comments: dict[int, tuple[str | None, str]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                before = token.line[:token.start[1]]
                comments[token.start[0]] = (None if before.strip() else before, token.string.rstrip())
    except (tokenize.TokenError, SyntaxError) as exc:
        line = getattr(exc, "lineno", None) or (exc.args[1][0] if len(exc.args) > 1 else 1)
        raise AutograderError(f"{filename}:{line}: cannot be read as Python ({exc.args[0]}); "
                              "fix the syntax so the solution markers can be found") from None
    return comments


def _parse_blocks(source: str, filename: str) -> list[_Block]:
    blocks: list[_Block] = []
    current: _Block | None = None
    for line, (indent, text) in sorted(_comment_lines(source, filename).items()):
        where = f"{filename}:{line}"
        if indent is None:
            if _BEGIN.match(text) or _END.match(text) or _STARTER.match(text) or _LOOKALIKE.match(text):
                raise AutograderError(f"{where}: a solution marker after code on the same line is not a marker, so "
                                      "the code would ship to students; put the marker on a line of its own")
            continue
        begin, end, starter = _BEGIN.fullmatch(text), _END.fullmatch(text), _STARTER.fullmatch(text)
        if begin:
            if current is not None:
                raise AutograderError(f"{where}: `# BEGIN SOLUTION` inside the block opened at line {current.begin} "
                                      "(blocks cannot nest); add `# END SOLUTION` before this line")
            hint = (begin.group("colon_hint") or begin.group("hint") or "").strip()
            current = _Block(begin=line, indent=indent, hint=hint or DEFAULT_HINT)
        elif end:
            if current is None:
                raise AutograderError(f"{where}: `# END SOLUTION` without a `# BEGIN SOLUTION` before it; "
                                      "add the BEGIN marker above the solution code or delete this line")
            if indent != current.indent:
                how = ("uses different whitespace (tabs/spaces) than" if len(indent) == len(current.indent)
                       else f"is indented {len(indent)} characters, but")
                raise AutograderError(f"{where}: `# END SOLUTION` {how} its `# BEGIN SOLUTION` at line {current.begin} "
                                      f"(indented {len(current.indent)}); indent both markers the same")
            current.end = line
            blocks.append(current)
            current = None
        elif starter:
            if current is None:
                raise AutograderError(f"{where}: `# STARTER:` outside a solution block would stay a comment; "
                                      "move it between `# BEGIN SOLUTION` and `# END SOLUTION`")
            code = starter.group("code").strip()
            current.starter.append((line, indent + code if code else ""))
        elif _LOOKALIKE.match(text):
            raise AutograderError(f"{where}: {text!r} looks like a solution marker but is not one, so the code "
                                  "would ship to students; write `# BEGIN SOLUTION: <hint>`, `# END SOLUTION` "
                                  "or `# STARTER: <code>` exactly")
    if current is not None:
        raise AutograderError(f"{filename}:{current.begin}: `# BEGIN SOLUTION` is never closed; add "
                              "`# END SOLUTION` after the solution code, at the same indentation")
    return blocks


def _statement_scopes(tree: ast.Module) -> list[tuple[int, int, tuple[str, ...]]]:
    """(line, column, enclosing def/class names including its own) of every statement, in source order."""
    found: list[tuple[int, int, tuple[str, ...]]] = []

    def visit(node: ast.AST, scope: tuple[str, ...]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.stmt):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    inner = scope + (child.name,)
                found.append((child.lineno, child.col_offset, inner))
            visit(child, inner)

    visit(tree, ())
    return found


def _enclosing_name(scopes: list[tuple[int, int, tuple[str, ...]]], line: int, indent: int) -> str:
    """Dotted def/class names around a comment at ``line``/``indent``.

    The nearest statement above it with smaller indentation is the compound statement whose body holds the
    block (a ``def``, ``class``, ``if``, ``for``...); its scope is the block's scope.  Scanning for that
    statement rather than for the nearest ``def`` keeps a module-level ``if`` after a function unprefixed.
    """
    best: tuple[int, int, tuple[str, ...]] | None = None
    for candidate in scopes:
        if candidate[0] < line and candidate[1] < indent and (best is None or candidate[:2] >= best[:2]):
            best = candidate
    return ".".join(best[2]) if best else ""


def _ending(line: str) -> str:
    return "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""


def _add_header(text: str, slug: str) -> str:
    """Put the header first, after a shebang or encoding line, which only work on the first two lines."""
    lines = _LINE.findall(text)
    keep = 1 if lines and lines[0].startswith("#!") else 0
    if keep < len(lines) and _CODING.match(lines[keep]):
        keep += 1
    newline = (_ending(lines[0]) if lines else "") or "\n"
    return "".join(lines[:keep]) + HEADER.format(slug=slug) + newline + "".join(lines[keep:])


def _is_reference_only(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip()
    return first == REFERENCE_ONLY or (first.startswith(REFERENCE_ONLY) and first[len(REFERENCE_ONLY)] in " :\t")


def _tree_files(root: Path) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of the files under ``root``, sorted, without ``__pycache__``, dotfiles
    and compiled files.  Symlinked folders are not entered, so nothing outside ``root`` is listed."""
    found: list[tuple[str, Path]] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and not name.endswith((".pyc", ".pyo")):
                path = Path(folder) / name
                found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)
