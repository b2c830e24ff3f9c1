"""The untrusted worker: the only process that imports and runs student code.

Started by the runner (``python -m autograder.isolation.worker``) with two pipe ends for requests and replies.
When started as root it first locks itself down (see :mod:`autograder.isolation.jail`): new network namespace,
rlimits, no extra file descriptors, the unprivileged grading user. Then it imports torch and numpy (so the
student's ``import torch`` gets the real, already-loaded module), moves into its copy of the submission, starts
warming further imports on a side thread (:func:`warm_imports`) and serves requests: import a module, get or
set an attribute, call, index, iterate. Results go back by value when they can
(:mod:`autograder.isolation.codec`) and as handles otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Callable


# Operations that run the grader's own code (helpers, input generators): an error they raise without passing
# through a frame of the student's files is the grader's fault, and must not read "Your code raised ...".
GRADER_OPS = frozenset({"trusted_call", "perf_prepare", "perf_generate", "perf_flops", "perf_place", "perf_allocator"})


class Server:
    """Holds the objects the runner refers to by handle and answers one request at a time."""

    def __init__(self, workdir: Path) -> None:
        from autograder.loading import PackageView
        from autograder.perf.batch import PerfSession

        self.workdir = workdir
        self.objects: dict[int, Any] = {}
        self.next_handle = 1
        self.package = PackageView(workdir, label="submission")
        self.perf = PerfSession(lambda name: getattr(self.package, name))

    def to_handle(self, value: Any) -> int:
        number = self.next_handle
        self.next_handle += 1
        self.objects[number] = value
        return number

    def from_handle(self, number: int) -> Any:
        if number not in self.objects:
            raise LookupError(f"unknown handle {number}")
        return self.objects[number]

    def handle(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            return {"error": {"type": "ProtocolError", "message": "malformed request", "frames": [], "kind": "grader"}}
        for number in request.get("release", []):
            self.objects.pop(number, None)
        op = request.get("op")
        operation: Callable[..., Any] | None = getattr(self, f"op_{op}", None)
        if operation is None:
            return {"error": {"type": "ProtocolError", "message": f"unknown operation {op!r}", "frames": [], "kind": "grader"}}
        try:
            return {"ok": operation(**request.get("args", {}))}
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # student code may raise anything, SystemExit included
            error = self.describe(exc)
            if op in GRADER_OPS and not error.get("frames") and error.get("kind") == "student":
                error["kind"] = "grader"  # the grader's own helper failed without passing through student code
            return {"error": error}

    def describe(self, exc: BaseException) -> dict[str, Any]:
        from autograder.loading import StudentCodeError, student_frames

        if isinstance(exc, StudentCodeError):
            return {"type": "StudentCodeError", "message": str(exc), "frames": [], "kind": "load"}
        if isinstance(exc, SystemExit):
            message = f"your code called sys.exit({exc.code!r}) (or exit()); return a value or raise an exception instead"
        else:
            try:
                message = str(exc)
            except Exception:  # a hostile __str__
                message = "(the exception's message could not be read)"
        from autograder.isolation.exceptions import lineage

        bases = [cls.__name__ for cls in type(exc).__mro__ if cls.__module__ == "builtins"]
        return {"type": type(exc).__name__, "builtin_bases": bases, "lineage": lineage(type(exc)),
                "message": message[:4000], "frames": student_frames(exc, self.workdir)[-20:], "kind": "student"}

    # ------------------------------------------------------------ operations
    def op_import(self, module: str) -> Any:
        return getattr(self.package, module)

    def op_perf_prepare(self, **args: Any) -> None:
        settle()
        self.perf.prepare(**args)

    def op_perf_run(self, seed: int, iterations: int) -> list[float]:
        return self.perf.run(seed, iterations)

    def op_perf_generate(self, seed: int, iterations: int) -> int:
        return self.perf.generate(seed, iterations)

    def op_perf_place(self, cpus: list[int]) -> list[int]:
        settle()  # the warm-up thread ends first: the runner then sees the same threads for the whole check
        return self.perf.place(cpus)

    def op_perf_flops(self, **args: Any) -> int:
        settle()
        return self.perf.flops(**args)

    def op_perf_allocator(self, mode: str) -> None:
        self.perf.allocator(mode)

    def op_perf_cuda_peak(self) -> int | None:
        return self.perf.cuda_peak_bytes()

    def op_trusted_call(self, function: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Run a function of the grader's own files in lib/ (autograder.kit.remote, declared student_side
        modules) here: what ``student_process.call`` does in tests (see autograder/kit/process.py)."""
        from autograder.kit.remote import resolve

        return resolve(function)(*args, **kwargs)

    def op_run_program(self, argv: list[str], stdin: bytes, timeout_s: float, env: dict[str, str] | None = None,
                       cwd: str | None = None, merge_stderr: bool = False) -> dict[str, Any]:
        """Run one of the student's programs as a child of this process, so inside this jail (the student's
        account, the rlimits, no network), in this copy of the submission: what ``student_process.run`` and
        tests' ``subprocess`` calls do in graded runs (see autograder/isolation/programs.py)."""
        from autograder.isolation import programs

        try:
            argv, stdin, timeout_s, extra = programs.check_request(argv, stdin, timeout_s, env)
            folder = programs.program_cwd(self.workdir, cwd)
        except programs.ProgramError as exc:  # the test's request, not the student's code: reported as such
            return {"start_error": f"ValueError: {exc}"}
        environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # not the framework copy
        shims = programs.python_shims(Path(environment.get("HOME") or self.workdir / ".home") / "bin", sys.executable)
        environment["PATH"] = f"{shims}:{environment.get('PATH', '/usr/bin:/bin')}"
        environment.update(extra)
        return programs.run(programs.program_argv(argv, sys.executable), stdin=stdin, timeout_s=timeout_s,
                            cwd=folder, env=environment, merge_stderr=bool(merge_stderr))

    def op_getattr(self, target: Any, name: str) -> Any:
        return getattr(target, name)

    def op_setattr(self, target: Any, name: str, value: Any) -> None:
        setattr(target, name, value)

    def op_call(self, target: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return target(*args, **kwargs)

    def op_getitem(self, target: Any, key: Any) -> Any:
        return target[key]

    def op_setitem(self, target: Any, key: Any, value: Any) -> None:
        target[key] = value

    def op_len(self, target: Any) -> int:
        return len(target)

    def op_iter(self, target: Any) -> list[Any]:
        return list(target)

    def op_contains(self, target: Any, item: Any) -> bool:
        return item in target

    def op_repr(self, target: Any) -> str:
        return repr(target)[:2000]

    def op_bool(self, target: Any) -> bool:
        return bool(target)


WARM_IMPORTS = ("torch._dynamo",)


def warm_imports() -> None:
    """Import, beside the first requests, what student code nearly always pulls in later.

    The first ``optimizer.step()`` (and any ``torch.compile``) imports ``torch._dynamo``: about 1 s here,
    which a1's ``train_digits`` test paid inside its time limit. Imported on a second thread right after the
    worker reports ready, it overlaps the runner's collection and first tests instead. Python's import lock
    makes a student import of the same module wait for this one rather than run it twice; a failure is
    left for the student's own import to report.
    """
    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the student's own import will raise it where it matters
            pass


_WARMING = threading.Thread(target=warm_imports, name="autograder-warm-imports", daemon=True)


def settle() -> None:
    """Wait for the warm-up imports: a time measurement must not share its CPU with them."""
    if _WARMING.is_alive():
        _WARMING.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--replies", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--jail", default="{}", help="JSON sandbox settings (see jail.py)")
    options = parser.parse_args(argv)

    from autograder.isolation import jail

    report = jail.lock_down(json.loads(options.jail), keep_fds=(0, 1, 2, options.requests, options.replies),
                           workdir=str(options.workdir))

    from autograder.perf.allocator import set_allocator

    set_allocator("steady")  # freed tensors are reused, not faulted in again: same state in every worker
    import numpy  # noqa: F401  - loaded before student code so `import numpy` there is the real one
    import torch  # noqa: F401

    from autograder.isolation import codec

    os.chdir(options.workdir)
    sys.path.insert(0, str(options.workdir))
    sys.dont_write_bytecode = True
    server = Server(options.workdir.resolve())
    codec.send(options.replies, {"ready": True, "pid": os.getpid(), **report})
    try:
        _WARMING.start()
    except RuntimeError:  # no thread to spare (e.g. a fork bomb used up RLIMIT_NPROC): import on demand
        pass
    while True:
        try:
            request = codec.receive(options.requests, server.from_handle)
        except EOFError:
            return
        except Exception:
            traceback.print_exc()
            os._exit(3)
        reply = server.handle(request)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            codec.send(options.replies, reply, server.to_handle)
        except codec.ProtocolError as exc:  # e.g. a result of a dtype that cannot travel
            codec.send(options.replies, {"error": {"type": "ValueError", "builtin_bases": ["ValueError"],
                                                   "message": f"the value your code returned cannot be graded: {exc}",
                                                   "frames": [], "kind": "student"}})


if __name__ == "__main__":
    main()
