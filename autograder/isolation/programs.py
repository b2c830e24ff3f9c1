"""Run one of the student's programs (``python calculator.py``, a plotting script) as a child process.

Used in two places, so a test sees the same behaviour in both:

- in graded runs, by the worker (:meth:`autograder.isolation.worker.Server.op_run_program`): the program is a
  child of the worker, so it inherits everything the worker's jail gave it (the student's account, the
  rlimits, the network cut, the seccomp filter) and starts in the worker's copy of the submission;
- in a student's own ``autograder check``, by the test process itself, in the submission folder.

``python``/``python3`` as the program (or inside a shell command) means the grader's own interpreter, the one
with torch and numpy, not whatever ``python3`` the system has. Output is capped (the first
:data:`OUTPUT_CAP_BYTES` of each stream are kept, the rest is read and dropped so the program never blocks on a
full pipe). At the time limit, or when the program ends, its whole process group is killed: a program that
left a background process behind does not keep it.
"""

from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

OUTPUT_CAP_BYTES = 4 * 1024 * 1024
PYTHON_NAMES = frozenset({"python", "python3", f"python3.{sys.version_info.minor}"})
EXIT_GRACE_S = 0.2  # after the program exits, how long output still held open by its children is read
MAX_ARGV = 4096


START_ERRORS: dict[str, type[Exception]] = {"FileNotFoundError": FileNotFoundError,
                                            "PermissionError": PermissionError, "ValueError": ValueError}
ProgramRunner = Callable[..., dict[str, Any]]


class ProgramError(ValueError):
    """The request itself is malformed (bad argv, a cwd outside the submission): the test's mistake."""


def check_request(argv: Any, stdin: Any, timeout_s: Any, env: Any) -> tuple[list[str], bytes, float, dict[str, str]]:
    """Validate what a test (or, in the worker, the runner) asked for; raise :class:`ProgramError` if malformed."""
    if isinstance(argv, (str, bytes)) or not isinstance(argv, (list, tuple)) or not argv or len(argv) > MAX_ARGV:
        raise ProgramError("argv must be a non-empty list of strings, e.g. ['python', 'plot.py', '--out', 'a.png']")
    if not all(isinstance(a, str) and "\0" not in a for a in argv):
        raise ProgramError("every argv item must be a string without NUL characters")
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    if not isinstance(stdin, (bytes, bytearray)):
        raise ProgramError("stdin must be bytes or str")
    if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or not 0 < timeout_s < 1e6:
        raise ProgramError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}")
    env = env or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) and k and "=" not in k
                                            and "\0" not in k + v for k, v in env.items()):
        raise ProgramError("env must be a dict of str to str (the variables to add to the program's environment)")
    return list(argv), bytes(stdin), float(timeout_s), dict(env)


def python_shims(folder: Path, python: str) -> Path:
    """``folder`` holding ``python`` and ``python3`` scripts that exec ``python``; put first on PATH so a shell
    command's ``python3`` is the grader's interpreter too (a symlink would lose the venv: Python finds its
    ``pyvenv.cfg`` next to the path it was started by)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in PYTHON_NAMES:
        shim = folder / name
        if not shim.exists():
            shim.write_text(f'#!/bin/sh\nexec "{python}" "$@"\n', encoding="utf-8")
            shim.chmod(0o755)
    return folder


def program_argv(argv: list[str], python: str) -> list[str]:
    """``argv`` with ``python``/``python3`` replaced by the grader's interpreter."""
    return [python, *argv[1:]] if argv[0] in PYTHON_NAMES else list(argv)


def program_cwd(base: Path, cwd: str | None) -> Path:
    """The folder to start in: ``base`` (the submission copy) or a folder inside it."""
    if not cwd:
        return base
    target = (base / cwd).resolve()
    if not target.is_relative_to(base.resolve()) or not target.is_dir():
        raise ProgramError(f"cwd {cwd!r} is not a folder inside the submission; give a path relative to it, or none")
    return target


def run(argv: list[str], *, stdin: bytes, timeout_s: float, cwd: Path, env: dict[str, str],
        merge_stderr: bool = False, cap: int = OUTPUT_CAP_BYTES, own_group: bool = True) -> dict[str, Any]:
    """Run ``argv`` to the end or to ``timeout_s``; return returncode, stdout, stderr (bytes, capped),
    timed_out, truncated, and ``start_error`` (a message) when the program could not be started at all.

    ``own_group``: the program leads a process group of its own, killed whole at the end (the worker; the
    runner kills those groups with the worker). Without it (a local ``check``) the program stays in the
    caller's group, which the grading parent kills on a time-out, and only the program itself is killed here.
    """
    try:
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                                 start_new_session=own_group, close_fds=True)
    except OSError as exc:
        return {"returncode": None, "stdout": b"", "stderr": b"", "timed_out": False, "truncated": False,
                "start_error": f"{type(exc).__name__}: {exc.strerror or exc}: {argv[0]!r}"}
    deadline = time.monotonic() + timeout_s
    outputs = {"stdout": bytearray(), "stderr": bytearray()}
    dropped = 0
    streams = {child.stdout: "stdout"} | ({} if merge_stderr else {child.stderr: "stderr"})
    selector = selectors.DefaultSelector()
    for stream in streams:
        selector.register(stream, selectors.EVENT_READ)
    pending = memoryview(stdin)
    if pending.nbytes:
        os.set_blocking(child.stdin.fileno(), False)
        selector.register(child.stdin, selectors.EVENT_WRITE)
    else:
        child.stdin.close()
    timed_out, exited_at = False, None
    try:
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            if exited_at is None and _exited(child.pid):
                exited_at = now
            if exited_at is not None and now - exited_at > EXIT_GRACE_S:
                break  # the program ended; a background child of its holding the pipes open does not count
            for key, _ in selector.select(min(deadline - now, 0.05)):
                if key.fileobj is child.stdin:
                    try:
                        pending = pending[os.write(child.stdin.fileno(), pending[:65536]):]
                    except BrokenPipeError:
                        pending = pending[:0]  # the program stopped reading: the rest of the input is not wanted
                    except BlockingIOError:
                        continue
                    if not pending.nbytes:
                        selector.unregister(child.stdin)
                        child.stdin.close()
                    continue
                data = os.read(key.fileobj.fileno(), 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                kept = outputs[streams[key.fileobj]]
                room = max(cap - len(kept), 0)
                kept += data[:room]
                dropped += max(len(data) - room, 0)
        if not timed_out:
            while not _exited(child.pid):
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
                time.sleep(0.01)
    finally:
        selector.close()
        if own_group:
            _kill_group(child.pid)  # the child is a zombie or still alive here, so its pid (= group id) is not reused
        elif child.poll() is None:
            child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    return {"returncode": child.returncode, "stdout": bytes(outputs["stdout"]), "stderr": bytes(outputs["stderr"]),
            "timed_out": timed_out, "truncated": dropped > 0}


run_program = run  # the name local_runner's inner function does not shadow


def _exited(pid: int) -> bool:
    """Whether ``pid`` has exited, without reaping it (the zombie keeps the pid and its group id reserved)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError as exc:  # already gone, or (EPERM) a member changed account: the run's clean-up gets it
        if exc.errno not in (errno.ESRCH, errno.EPERM):
            raise


def child_groups(parent: int) -> list[int]:
    """Process groups led by children of ``parent`` (the worker's programs): killed with the worker, since a
    program runs in a group of its own and ``killpg`` of the worker's group does not reach it."""
    groups = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, pgid = int(fields[1]), int(fields[2])
        if ppid == parent and pgid == int(entry):
            groups.append(pgid)
    return groups


def start_error(message: Any) -> Exception:
    """The exception for a reply's ``start_error`` ("FileNotFoundError: ..."): raised in the test, which asked
    for a program that does not exist (or a malformed request)."""
    kind, _, text = str(message)[:2000].partition(": ")
    return START_ERRORS.get(kind, OSError)(f"could not start the program: {text or kind}")


def remote_runner(pool: Any) -> ProgramRunner:
    """Graded runs: the worker runs the program (``op_run_program``); see ``WorkerPool.run_program``."""
    def run(**request: Any) -> dict[str, Any]:
        return pool.run_program(**request)
    return run


def local_runner(folder: Path) -> ProgramRunner:
    """A student's own run: a plain subprocess of the test process, started in the submission folder ``folder``
    and left in the test process's group, which the grading parent kills on a time-out."""
    shims = python_shims(Path(tempfile.mkdtemp(prefix="autograder-python-")), sys.executable)

    def run(*, argv: list[str], stdin: bytes, timeout_s: float, env: dict[str, str] | None = None,
            cwd: str | None = None, merge_stderr: bool = False) -> dict[str, Any]:
        try:
            argv, stdin, timeout_s, extra = check_request(argv, stdin, timeout_s, env)
            start_in = program_cwd(folder, cwd)
        except ProgramError as exc:
            return {"start_error": f"ValueError: {exc}"}
        environment = dict(os.environ)
        environment["PATH"] = f"{shims}{os.pathsep}{environment.get('PATH', '/usr/bin:/bin')}"
        environment.update(extra)
        return run_program(program_argv(argv, sys.executable), stdin=stdin, timeout_s=timeout_s, cwd=start_in,
                           env=environment, merge_stderr=merge_stderr, own_group=False)
    return run
