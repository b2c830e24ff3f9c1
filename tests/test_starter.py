"""Tests for autograder.starter: rendering solution blocks, refusing malformed markers, writing and staleness."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autograder.errors import AutograderError
from autograder.layout import CourseLayout
from autograder.starter import (
    DEFAULT_HINT,
    HEADER,
    generate_starter,
    render_starter,
    solution_block_count,
    stale_starter_files,
    write_starter,
)

COURSE = CourseLayout(Path(__file__).parents[1])


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def refused(source: str, filename: str = "reference/a1/layers.py") -> str:
    """The one-line message render_starter refuses ``source`` with."""
    with pytest.raises(AutograderError) as info:
        render_starter(src(source), filename)
    message = str(info.value)
    assert "\n" not in message, message
    return message


# --- rendering ----------------------------------------------------------------------------------------------


def test_block_with_hint_becomes_raise_at_begin_indentation() -> None:
    reference = src('''
        def relu_backward(grad_output, x):
            """docstring stays"""
            # BEGIN SOLUTION: multiply the incoming gradient by the mask where x > 0
            return grad_output * (x > 0)
            # END SOLUTION
        ''')
    assert render_starter(reference, "layers.py") == src('''
        def relu_backward(grad_output, x):
            """docstring stays"""
            raise NotImplementedError("relu_backward: multiply the incoming gradient by the mask where x > 0")
        ''')


def test_hint_without_colon_is_used_too() -> None:
    reference = src("""
        def f():
            # BEGIN SOLUTION compute the mean
            return 1
            # END SOLUTION
        """)
    assert 'raise NotImplementedError("f: compute the mean")' in render_starter(reference, "m.py")


@pytest.mark.parametrize("begin", ["# BEGIN SOLUTION", "# BEGIN SOLUTION:", "# BEGIN SOLUTION:   "])
def test_block_without_hint_points_at_the_handout(begin: str) -> None:
    reference = src(f"""
        def softmax(x):
            {begin}
            return x
            # END SOLUTION
        """)
    assert render_starter(reference, "m.py") == src(f"""
        def softmax(x):
            raise NotImplementedError("softmax: {DEFAULT_HINT}")
        """)


def test_method_is_named_with_its_class() -> None:
    reference = src("""
        class Linear:
            def __init__(self, n):
                self.n = n

            def forward(self, x):
                if x is None:
                    return None
                else:
                    # BEGIN SOLUTION: return x @ W
                    return x
                    # END SOLUTION

            def backward(self, g):
                def helper(v):
                    # BEGIN SOLUTION
                    return v
                    # END SOLUTION
                return helper(g)
        """)
    out = render_starter(reference, "m.py")
    assert '            raise NotImplementedError("Linear.forward: return x @ W")\n' in out
    assert f'            raise NotImplementedError("Linear.backward.helper: {DEFAULT_HINT}")\n' in out
    assert "return x\n" not in out and "return v\n" not in out


def test_block_in_class_body_is_named_by_the_class() -> None:
    reference = src("""
        class Config:
            def method(self):
                return 1
            # BEGIN SOLUTION: pick a learning rate
            lr = 0.1
            # END SOLUTION
        """)
    assert '    raise NotImplementedError("Config: pick a learning rate")\n' in render_starter(reference, "m.py")


def test_module_level_block_has_no_prefix_even_after_a_function() -> None:
    reference = src("""
        def helper():
            return 1


        if True:
            # BEGIN SOLUTION: choose the batch size
            BATCH = 32
            # END SOLUTION
        # BEGIN SOLUTION
        SEED = 0
        # END SOLUTION
        """)
    out = render_starter(reference, "m.py")
    assert '    raise NotImplementedError("choose the batch size")\n' in out
    assert f'\nraise NotImplementedError("{DEFAULT_HINT}")\n' in out


def test_starter_lines_replace_the_raise_at_their_own_indentation() -> None:
    reference = src("""
        class Net:
            def __init__(self):
                # BEGIN SOLUTION: build the layers
                self.layers = [1, 2]
                # STARTER: self.layers = None  # TODO
                # STARTER:
                # STARTER: for layer in []:
                    # STARTER: pass
                # END SOLUTION
                self.ready = True
        """)
    assert render_starter(reference, "m.py") == src("""
        class Net:
            def __init__(self):
                self.layers = None  # TODO
                for layer in []:
                    pass
                self.ready = True
        """)


def test_only_empty_starter_lines_give_pass() -> None:
    reference = src("""
        def reset(self):
            # BEGIN SOLUTION
            self.cache = {}
            # STARTER:
            # END SOLUTION
        """)
    assert render_starter(reference, "m.py") == src("""
        def reset(self):
            pass
        """)


def test_code_outside_blocks_is_kept_byte_for_byte() -> None:
    reference = "import os\r\n\r\ndef f():  # keep me\r\n    # BEGIN SOLUTION\r\n    return 1\r\n    # END SOLUTION\r\n\r\nX = '# BEGIN SOLUTION'\r\n"
    assert render_starter(reference, "m.py") == (
        "import os\r\n\r\ndef f():  # keep me\r\n"
        f'    raise NotImplementedError("f: {DEFAULT_HINT}")\r\n'
        "\r\nX = '# BEGIN SOLUTION'\r\n")


def test_markers_inside_strings_are_not_markers() -> None:
    reference = src('''
        DOC = """
        # BEGIN SOLUTION
        not a block
        # END SOLUTION
        """
        ''')
    assert render_starter(reference, "m.py") == reference
    assert solution_block_count(reference) == 0


def test_hint_with_quotes_and_backslashes_stays_a_valid_literal() -> None:
    reference = src(r"""
        def f():
            # BEGIN SOLUTION: use "np.where" \ not a loop
            return 1
            # END SOLUTION
        """)
    out = render_starter(reference, "m.py")
    namespace: dict = {}
    exec(compile(out, "m.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r'^f: use "np.where" \\ not a loop$'):
        namespace["f"]()


def test_source_without_blocks_is_unchanged() -> None:
    reference = src("""
        def f():
            # an ordinary comment
            return 1
        """)
    assert render_starter(reference, "m.py") == reference


def test_rendering_is_deterministic() -> None:
    reference = src("""
        class A:
            def f(self):
                # BEGIN SOLUTION: x
                return 1
                # END SOLUTION
        """)
    assert {render_starter(reference, "m.py") for _ in range(3)} == {render_starter(reference, "m.py")}


def test_solution_block_count() -> None:
    reference = src("""
        def f():
            # BEGIN SOLUTION
            return 1
            # END SOLUTION

        def g():
            # BEGIN SOLUTION: hint
            return 2
            # END SOLUTION
        """)
    assert solution_block_count(reference) == 2
    assert solution_block_count("x = 1\n") == 0


# --- refusals -----------------------------------------------------------------------------------------------


def test_nested_begin_is_refused() -> None:
    message = refused("""
        def f():
            # BEGIN SOLUTION
            x = 1
            # BEGIN SOLUTION
            return x
            # END SOLUTION
            # END SOLUTION
        """)
    assert message.startswith("reference/a1/layers.py:4: ")
    assert "line 2" in message and "nest" in message


def test_end_without_begin_is_refused() -> None:
    message = refused("""
        def f():
            return 1
            # END SOLUTION
        """)
    assert message.startswith("reference/a1/layers.py:3: ")
    assert "without a `# BEGIN SOLUTION`" in message


def test_unterminated_begin_is_refused() -> None:
    message = refused("""
        def f():
            # BEGIN SOLUTION
            return 1
        """)
    assert message.startswith("reference/a1/layers.py:2: ")
    assert "never closed" in message


def test_end_at_other_indentation_is_refused() -> None:
    message = refused("""
        def f():
            # BEGIN SOLUTION
            return 1
        # END SOLUTION
        """)
    assert message.startswith("reference/a1/layers.py:4: ")
    assert "line 2" in message and "indent both markers the same" in message


def test_starter_line_outside_a_block_is_refused() -> None:
    message = refused("""
        def f():
            # STARTER: return None
            return 1
        """)
    assert message.startswith("reference/a1/layers.py:2: ")


@pytest.mark.parametrize("marker", ["# begin solution", "# BEGIN SOLUTIONS", "# BEGIN_SOLUTION", "# STARTER x = 1"])
def test_misspelt_marker_is_refused_rather_than_leaking_the_solution(marker: str) -> None:
    message = refused(f"""
        def f():
            {marker}
            return 1
            # END SOLUTION
        """)
    assert message.startswith("reference/a1/layers.py:2: ")
    assert "looks like a solution marker" in message


def test_marker_after_code_is_refused() -> None:
    message = refused("""
        def f():
            return 1  # BEGIN SOLUTION
        """)
    assert message.startswith("reference/a1/layers.py:2: ")
    assert "line of its own" in message


def test_invalid_starter_is_refused_naming_the_reference_line() -> None:
    message = refused("""
        def f():
            # BEGIN SOLUTION
            x = 1
            y = 2
            return x + y
            # END SOLUTION

        WEIGHTS = [
            1,
            # BEGIN SOLUTION
            2,
            # END SOLUTION
        ]
        """)
    # the starter is 5 lines shorter above the broken block; the message must still point into the reference
    assert message.startswith("reference/a1/layers.py:10: ")
    assert "not valid Python" in message


def test_invalid_starter_line_is_refused() -> None:
    message = refused("""
        def f():
            # BEGIN SOLUTION
            return 1
            # STARTER: return (
            # END SOLUTION
        """)
    assert message.startswith("reference/a1/layers.py:")
    assert "starter generated from this file is not valid Python" in message


# The second parses (ast.parse accepts it) but compile() refuses `return` outside a function.
@pytest.mark.parametrize(("body", "line"), [("def f(:\n    return 1\n", 1), ("x = 1\nreturn x\n", 2)])
def test_invalid_reference_is_refused(body: str, line: int) -> None:
    message = refused(body)
    assert message.startswith(f"reference/a1/layers.py:{line}: ")
    assert "reference is not valid Python" in message


# --- folders ------------------------------------------------------------------------------------------------

LAYERS = src('''
    """Layers."""


    def relu(x):
        # BEGIN SOLUTION: clamp at zero
        return max(x, 0)
        # END SOLUTION
    ''')


def make_reference(root: Path) -> Path:
    reference = root / "reference" / "a1"
    (reference / "pkg").mkdir(parents=True)
    (reference / "layers.py").write_text(LAYERS)
    (reference / "utils.py").write_text("def helper():\n    return 1\n")
    (reference / "pkg" / "__init__.py").write_text("")
    (reference / "pkg" / "model.py").write_text("# BEGIN SOLUTION\nX = 1\n# END SOLUTION\n")
    (reference / "data.csv").write_text("a,b\r\n1,2\r\n")
    (reference / "grader_helpers.py").write_text("# REFERENCE ONLY: used by hidden tests\nSECRET = 42\n")
    (reference / ".env").write_text("TOKEN=x\n")
    (reference / ".ipynb_checkpoints").mkdir()
    (reference / ".ipynb_checkpoints" / "layers-checkpoint.py").write_text("X = 1\n")
    (reference / "__pycache__").mkdir()
    (reference / "__pycache__" / "layers.cpython-310.pyc").write_bytes(b"\x00\xff")
    return reference


def test_generate_starter_applies_every_file_rule(tmp_path: Path) -> None:
    files = generate_starter(make_reference(tmp_path), slug="a1")
    header = HEADER.format(slug="a1") + "\n"
    assert list(files) == ["data.csv", "layers.py", "pkg/__init__.py", "pkg/model.py", "utils.py"]
    assert files["layers.py"] == header + render_starter(LAYERS, "layers.py")
    assert 'raise NotImplementedError("relu: clamp at zero")' in files["layers.py"]
    assert files["pkg/model.py"] == header + f'raise NotImplementedError("{DEFAULT_HINT}")\n'
    assert files["utils.py"] == "def helper():\n    return 1\n"  # no blocks: unchanged, no header
    assert files["data.csv"] == "a,b\r\n1,2\r\n"
    assert files["pkg/__init__.py"] == ""


def test_reference_only_marker_counts_only_on_the_first_line(tmp_path: Path) -> None:
    reference = tmp_path / "ref"
    reference.mkdir()
    (reference / "secret.py").write_text("# REFERENCE ONLY\nSECRET = 1\n")
    (reference / "public.py").write_text('"""Doc."""\n# REFERENCE ONLY\nX = 1\n')
    (reference / "notes.py").write_text("# REFERENCE ONLY-ish notes\nX = 1\n")
    assert sorted(generate_starter(reference, slug="a1")) == ["notes.py", "public.py"]


def test_header_goes_after_a_shebang(tmp_path: Path) -> None:
    reference = tmp_path / "ref"
    reference.mkdir()
    (reference / "train.py").write_text("#!/usr/bin/env python3\n# BEGIN SOLUTION\nX = 1\n# END SOLUTION\n")
    lines = generate_starter(reference, slug="a1")["train.py"].splitlines()
    assert lines[:2] == ["#!/usr/bin/env python3", HEADER.format(slug="a1")]


def test_generation_is_deterministic(tmp_path: Path) -> None:
    one = make_reference(tmp_path / "one")
    two = tmp_path / "two"
    for path in sorted(one.rglob("*"), reverse=True):  # same files, created in the opposite order
        target = two / path.relative_to(one)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file():
            target.write_bytes(path.read_bytes())
    first, second = generate_starter(one, slug="a1"), generate_starter(two, slug="a1")
    assert list(first.items()) == list(second.items())
    assert first == generate_starter(one, slug="a1")


def test_missing_reference_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AutograderError, match="no reference solution folder"):
        generate_starter(tmp_path / "nope", slug="a1")


def test_non_text_file_is_refused(tmp_path: Path) -> None:
    reference = tmp_path / "ref"
    reference.mkdir()
    (reference / "weights.bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(AutograderError, match=r"weights\.bin: is not UTF-8 text"):
        generate_starter(reference, slug="a1")


def test_write_starter_writes_exactly_the_generated_files(tmp_path: Path) -> None:
    reference = make_reference(tmp_path)
    starter = tmp_path / "starter" / "a1"
    (starter / "old").mkdir(parents=True)
    (starter / "old" / "gone.py").write_text("x = 1\n")
    (starter / ".gitkeep").write_text("")
    (starter / "__pycache__").mkdir()
    (starter / "__pycache__" / "x.pyc").write_bytes(b"\x00")
    outside = tmp_path / "starter" / "keep.txt"
    outside.write_text("not ours\n")

    written = write_starter(reference, starter, slug="a1")

    expected = generate_starter(reference, slug="a1")
    assert written == [starter / rel for rel in expected]
    for rel, content in expected.items():
        assert (starter / rel).read_bytes() == content.encode()
    assert not (starter / "old" / "gone.py").exists()
    assert (starter / "old").is_dir()  # files only: folders stay
    assert (starter / ".gitkeep").exists() and (starter / "__pycache__" / "x.pyc").exists()
    assert outside.read_text() == "not ours\n"
    assert not (starter / "grader_helpers.py").exists()
    assert stale_starter_files(reference, starter, slug="a1") == []


def test_write_starter_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    reference = make_reference(tmp_path)
    starter = tmp_path / "starter" / "a1"
    starter.mkdir(parents=True)
    victim = tmp_path / "victim.py"
    victim.write_text("precious\n")
    (starter / "utils.py").symlink_to(victim)
    write_starter(reference, starter, slug="a1")
    assert victim.read_text() == "precious\n"
    assert not (starter / "utils.py").is_symlink()


def test_write_starter_refuses_to_overwrite_the_reference(tmp_path: Path) -> None:
    reference = make_reference(tmp_path)
    before = (reference / "layers.py").read_text()
    with pytest.raises(AutograderError, match="overlaps the reference folder"):
        write_starter(reference, reference, slug="a1")
    assert (reference / "layers.py").read_text() == before


def test_refusal_leaves_the_starter_untouched(tmp_path: Path) -> None:
    reference = make_reference(tmp_path)
    starter = tmp_path / "starter" / "a1"
    write_starter(reference, starter, slug="a1")
    before = {p: p.read_bytes() for p in starter.rglob("*") if p.is_file()}
    (reference / "utils.py").write_text("# END SOLUTION\n")
    with pytest.raises(AutograderError, match=r"utils\.py:1: "):
        write_starter(reference, starter, slug="a1")
    assert {p: p.read_bytes() for p in starter.rglob("*") if p.is_file()} == before


def test_symlink_in_the_starter_is_stale_because_writing_replaces_it(tmp_path: Path) -> None:
    reference = make_reference(tmp_path)
    starter = tmp_path / "starter" / "a1"
    write_starter(reference, starter, slug="a1")
    copy = tmp_path / "utils_copy.py"
    copy.write_bytes((starter / "utils.py").read_bytes())
    (starter / "utils.py").unlink()
    (starter / "utils.py").symlink_to(copy)
    assert stale_starter_files(reference, starter, slug="a1") == ["utils.py"]


def test_stale_detection(tmp_path: Path) -> None:
    reference = make_reference(tmp_path)
    starter = tmp_path / "starter" / "a1"
    assert stale_starter_files(reference, starter, slug="a1") == sorted(generate_starter(reference, slug="a1"))
    write_starter(reference, starter, slug="a1")
    assert stale_starter_files(reference, starter, slug="a1") == []

    (starter / "layers.py").write_text((starter / "layers.py").read_text() + "# student edit\n")
    assert stale_starter_files(reference, starter, slug="a1") == ["layers.py"]
    write_starter(reference, starter, slug="a1")

    (starter / "pkg" / "extra.py").write_text("x = 1\n")
    assert stale_starter_files(reference, starter, slug="a1") == ["pkg/extra.py"]
    write_starter(reference, starter, slug="a1")

    (starter / "data.csv").unlink()
    assert stale_starter_files(reference, starter, slug="a1") == ["data.csv"]
    write_starter(reference, starter, slug="a1")

    (reference / "utils.py").write_text("def helper():\n    return 2\n")
    assert stale_starter_files(reference, starter, slug="a1") == ["utils.py"]
    write_starter(reference, starter, slug="a1")
    assert stale_starter_files(reference, starter, slug="a1") == []


# --- the course repository itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("slug", COURSE.slugs())
def test_committed_starter_is_up_to_date(slug: str) -> None:
    stale = stale_starter_files(COURSE.reference_dir(slug), COURSE.starter_dir(slug), slug=slug)
    assert not stale, "\n".join(f"starter/{slug}/{rel} is stale; run `autograder starter {slug}`" for rel in stale)
