"""Test files written for gradescope-utils run unchanged: what they do to the student's files is sent where the
student's code runs, never done in the test process.

Two stand-ins, installed by the plugin for the whole run (:func:`install`) and removed at its end:

- **subprocess.** Gradescope's own sample starts the student's program from a test
  (``subprocess.Popen(["python3", "-u", "calculator.py"], stdin=PIPE, stdout=PIPE)`` and ``communicate``). In
  this grader the test process runs as root, holds the hidden tests, and has no student files in its folder,
  so running that command here would be both wrong and unsafe. While installed, every ``subprocess.Popen``
  made by code in the assignment's test folder (directly, or through ``subprocess.run``, ``check_output``,
  ``call``, ``os.popen``; and ``os.system``) becomes a :class:`SandboxPopen`: the command runs through the same
  path as ``student_process.run`` (autograder/isolation/programs.py), inside the student's sandbox, in their
  copy of the submission, with ``python``/``python3`` meaning the grader's interpreter. Calls made by anything
  else (the framework starting its workers, a library) are left alone: the caller is found from the stack.
  The program runs when the test first waits for it (``communicate``, ``wait``, ``poll``, a read, the end of
  a ``with`` block; ``subprocess.run`` and friends do so at once), with the whole input at once: a test that
  writes, reads the answer, then writes again depending on it is not supported (write everything, then
  ``communicate``), a program never waited for never runs, and ``pid`` is ``None``.
- **check_submitted_files.** gradescope-utils looks at ``/autograder/submission``; here it looks at the
  submission being graded (the files the assignment's ``[submission]`` lists, as taken in), which is where
  Gradescope's answer comes from too, in ``grade``, ``check`` and Gradescope alike.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Callable

ProgramRunner = Callable[..., dict[str, Any]]
GRADESCOPE_SUBMISSION = "/autograder/submission"
UNSUPPORTED = ("preexec_fn", "pass_fds", "user", "group", "extra_groups", "executable", "startupinfo")


class _Route:
    """Where routed commands go, and which callers are routed."""

    def __init__(self, runner: ProgramRunner, tests_root: Path, exclude: Path | None) -> None:
        self.runner, self.tests_root, self.exclude = runner, tests_root.resolve(), exclude
        self.stdlib = tuple({str(Path(p).resolve()) + os.sep for p in (sysconfig.get_paths()["stdlib"],
                                                                        sysconfig.get_paths()["platstdlib"])})
        self.here = str(Path(__file__).resolve())
        self._decisions: dict[str, bool] = {}

    def wants(self, depth: int) -> bool:
        """True when the nearest caller outside the standard library is a file in the test folder."""
        frame = sys._getframe(depth)
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith("<") or name == self.here or (
                    name.startswith(self.stdlib) and "-packages" not in name):
                frame = frame.f_back  # subprocess.run, os.popen, unittest...: look further out
                continue
            if name not in self._decisions:
                path = Path(name).resolve()
                self._decisions[name] = path.is_relative_to(self.tests_root) and not (
                    self.exclude is not None and path.is_relative_to(self.exclude))
            return self._decisions[name]
        return False


_ROUTE: _Route | None = None
_ORIGINALS: dict[str, Any] = {}


class RoutedPopen(subprocess.Popen):  # type: ignore[type-arg]
    """Installed as ``subprocess.Popen``: a test's command becomes a :class:`SandboxPopen`, anyone else's is
    the real thing (this class, a subclass of the original, so ``isinstance`` checks keep working)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        route = _ROUTE
        if route is not None and route.wants(2):
            return SandboxPopen(route.runner, *args, **kwargs)
        return super().__new__(cls)


def _routed_system(command: Any) -> int:
    """Installed as ``os.system``: a test's shell command runs in the sandbox; returns a wait status."""
    route = _ROUTE
    if route is None or not route.wants(2):
        return _ORIGINALS["system"](command)
    process = SandboxPopen(route.runner, os.fsdecode(command), shell=True)
    code = process.wait()
    return (code & 0xFF) << 8 if code >= 0 else -code


def install(runner: ProgramRunner, tests_root: Path, submission: Path | None, exclude: Path | None = None) -> None:
    """Route the test folder's subprocess calls to ``runner`` and point check_submitted_files at ``submission``."""
    global _ROUTE
    _ROUTE = _Route(runner, tests_root, exclude)
    if "Popen" not in _ORIGINALS:
        _ORIGINALS["Popen"], _ORIGINALS["system"] = subprocess.Popen, os.system
        subprocess.Popen = RoutedPopen  # type: ignore[misc]
        os.system = _routed_system
    if submission is not None:
        try:
            from gradescope_utils.autograder_utils import files
        except ImportError:
            return
        _ORIGINALS.setdefault("check_submitted_files", files.check_submitted_files.__defaults__)
        files.check_submitted_files.__defaults__ = (str(submission),)


def uninstall() -> None:
    global _ROUTE
    _ROUTE = None
    if "Popen" in _ORIGINALS:
        subprocess.Popen = _ORIGINALS.pop("Popen")  # type: ignore[misc]
        os.system = _ORIGINALS.pop("system")
    if "check_submitted_files" in _ORIGINALS:
        from gradescope_utils.autograder_utils import files

        files.check_submitted_files.__defaults__ = _ORIGINALS.pop("check_submitted_files")


class _InputPipe:
    """``process.stdin`` with ``stdin=PIPE``: collects what the test writes until the program is run."""

    def __init__(self, text: bool, encoding: str) -> None:
        self.text, self.encoding, self.data, self.closed = text, encoding, bytearray(), False

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to closed file")
        if self.text != isinstance(data, str):
            raise TypeError(f"write() argument must be {'str' if self.text else 'bytes'}, not {type(data).__name__}")
        self.data += data.encode(self.encoding) if self.text else bytes(data)
        return len(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def fileno(self) -> int:
        raise io.UnsupportedOperation("the student's program runs in its own sandbox; its pipes have no file number here")


class _OutputPipe:
    """``process.stdout``/``stderr`` with ``PIPE``: the program runs on the first read, then this reads its output."""

    def __init__(self, process: "SandboxPopen", name: str) -> None:
        self._process, self._name, self._buffer = process, name, None

    def _stream(self) -> Any:
        if self._buffer is None:
            self._process._finish(None)
            data = self._process._outputs.get(self._name) or (b"" if not self._process._text else "")
            self._buffer = io.StringIO(data) if self._process._text else io.BytesIO(data)
            self._process._outputs[self._name] = data[:0]  # read here now; communicate() will not see it again
        return self._buffer

    def read(self, size: int = -1) -> Any:
        return self._stream().read(size)

    def readline(self, size: int = -1) -> Any:
        return self._stream().readline(size)

    def readlines(self) -> list[Any]:
        return self._stream().readlines()

    def __iter__(self) -> Any:
        return iter(self._stream())

    def close(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return False

    def fileno(self) -> int:
        raise io.UnsupportedOperation("the student's program runs in its own sandbox; its pipes have no file number here")


class SandboxPopen:
    """A ``subprocess.Popen`` look-alike whose command runs in the student's sandbox; see the module docstring.

    The program runs when its result is first needed: at ``communicate``, ``wait``, ``poll`` (once its input
    is complete), a read of its output, or the end of a ``with`` block, with everything written to ``stdin``
    so far; so ``communicate(timeout=...)`` and ``subprocess.run(timeout=...)`` limit it as they would a real one.
    """

    def __init__(self, runner: ProgramRunner, args: Any, bufsize: int = -1, executable: Any = None, stdin: Any = None,
                 stdout: Any = None, stderr: Any = None, preexec_fn: Any = None, close_fds: bool = True,
                 shell: bool = False, cwd: Any = None, env: Any = None, universal_newlines: Any = None,
                 **more: Any) -> None:
        given = {"executable": executable, "preexec_fn": preexec_fn, **more}
        refused = [name for name in UNSUPPORTED if given.get(name) not in (None, (), [])]
        if refused:
            raise ValueError(f"subprocess.Popen({refused[0]}=...) is not supported for commands that run in the "
                             "student's sandbox; run the program with student_process.run(argv, stdin=...) instead")
        self._runner = runner
        self.args = args
        self._text = bool(more.get("text") or universal_newlines or more.get("encoding") or more.get("errors"))
        self._encoding = more.get("encoding") or "utf-8"
        self._errors = more.get("errors") or "strict"
        self._argv = _argv(args, shell)
        self._cwd = _sandbox_cwd(cwd)
        self._env = None if env is None else {str(k): str(v) for k, v in env.items() if os.environ.get(k) != v}
        self._stdout_target, self._stderr_target = stdout, stderr
        self.pid = None
        self.returncode: int | None = None
        self._outputs: dict[str, Any] = {}
        self._result: dict[str, Any] | None = None
        self.stdin = _InputPipe(self._text, self._encoding) if stdin == subprocess.PIPE else None
        self._fixed_input = b"" if stdin in (None, subprocess.DEVNULL) or stdin == subprocess.PIPE else _read_all(stdin)
        self.stdout = _OutputPipe(self, "stdout") if stdout == subprocess.PIPE else None
        self.stderr = _OutputPipe(self, "stderr") if stderr == subprocess.PIPE else None

    # ------------------------------------------------------------ running
    def _finish(self, timeout: float | None) -> None:
        """Run the program (once) and keep its outputs; raise TimeoutExpired if it had to be stopped."""
        if self._result is None:
            data = bytes(self.stdin.data) if self.stdin is not None else self._fixed_input
            if self.stdin is not None:
                self.stdin.close()
            request: dict[str, Any] = {"argv": self._argv, "stdin": data, "env": self._env, "cwd": self._cwd,
                                       "merge_stderr": self._stderr_target == subprocess.STDOUT,
                                       "timeout_s": float(timeout) if timeout is not None else 1e5}
            reply = self._runner(**request)
            error = reply.get("start_error") if isinstance(reply, dict) else "OSError: no answer"
            if error is not None:
                from autograder.isolation.programs import start_error

                raise start_error(error)  # FileNotFoundError, as a real Popen of a missing program raises
            self._result = reply
            self.returncode = reply.get("returncode") if type(reply.get("returncode")) is int else -9
            for name, target in (("stdout", self._stdout_target), ("stderr", self._stderr_target)):
                raw = reply.get(name) if isinstance(reply.get(name), (bytes, bytearray)) else b""
                value = self._decode(bytes(raw))
                if target == subprocess.PIPE:
                    self._outputs[name] = value
                elif target is None:
                    stream = sys.stdout if name == "stdout" else sys.stderr  # captured with the test's output
                    stream.write(raw.decode("utf-8", "replace"))
                elif target not in (subprocess.DEVNULL, subprocess.STDOUT):
                    _write_all(target, bytes(raw))
        if self._result.get("timed_out") and not self._result.get("_reported"):
            self._result["_reported"] = True
            limit = self._result.get("timeout_s", timeout)
            raise subprocess.TimeoutExpired(self.args, limit if limit is not None else 0,
                                            output=self._outputs.get("stdout"), stderr=self._outputs.get("stderr"))

    def _decode(self, raw: bytes) -> Any:
        if not self._text:
            return raw
        return raw.decode(self._encoding, self._errors).replace("\r\n", "\n").replace("\r", "\n")

    # ------------------------------------------------------------ the Popen interface
    def communicate(self, input: Any = None, timeout: float | None = None) -> tuple[Any, Any]:
        if input is not None and self._result is None:
            if self.stdin is None:
                raise ValueError("communicate(input) needs stdin=subprocess.PIPE")
            self.stdin.write(input)
        self._finish(timeout)
        out = self._outputs.get("stdout") if self._stdout_target == subprocess.PIPE else None
        err = self._outputs.get("stderr") if self._stderr_target == subprocess.PIPE else None
        for name in ("stdout", "stderr"):
            if self._outputs.get(name) is not None:
                self._outputs[name] = self._outputs[name][:0]
        return out, err

    def wait(self, timeout: float | None = None) -> int:
        self._finish(timeout)
        assert self.returncode is not None
        return self.returncode

    def poll(self) -> int | None:
        if self._result is None and self.stdin is not None and not self.stdin.closed:
            return None  # still waiting for its input, as a real program would be
        self._finish(None)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self._result is None:  # stopped before it ever ran: it never will
            self._result = {"returncode": -int(sig), "timed_out": False}
            self.returncode = -int(sig)

    def terminate(self) -> None:
        self.send_signal(15)

    def kill(self) -> None:
        self.send_signal(9)

    def __enter__(self) -> "SandboxPopen":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._result is None:
            try:
                self.wait()
            except subprocess.TimeoutExpired:
                pass

    def __repr__(self) -> str:
        return f"<SandboxPopen: returncode: {self.returncode} args: {self.args!r}>"


def _argv(args: Any, shell: bool) -> list[str]:
    if isinstance(args, (str, bytes, os.PathLike)):
        args = [args]
    argv = [os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else str(a) for a in args]
    return ["/bin/sh", "-c", *argv] if shell else argv


def _sandbox_cwd(cwd: Any) -> str | None:
    """A test's ``cwd=`` in terms of the student's copy: none, or a relative path inside it. The runner's own
    folder and Gradescope's /autograder/submission both mean the copy itself."""
    if cwd is None:
        return None
    path = os.fsdecode(cwd)
    if not os.path.isabs(path):
        return path
    if path.rstrip("/") in (os.getcwd().rstrip("/"), GRADESCOPE_SUBMISSION):
        return None
    raise ValueError(f"subprocess cwd={path!r}: the student's program runs in their own copy of the submission; "
                     "drop cwd= or give a path relative to the submission")


def _read_all(source: Any) -> bytes:
    if isinstance(source, int):
        chunks = []
        while chunk := os.read(source, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    data = source.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _write_all(target: Any, data: bytes) -> None:
    if isinstance(target, int):
        view = memoryview(data)
        while view.nbytes:
            view = view[os.write(target, view):]
        return
    try:
        target.write(data)
    except TypeError:
        target.write(data.decode("utf-8", "replace"))
