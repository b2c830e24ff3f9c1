"""The ``student_process`` fixture: what tests may do *in* the student's process, without reaching into the
student's module for anything.

On the grader the student's code runs in a worker process of its own (autograder/isolation); a model the
tests built cannot be handed to it (objects cross by value only when they are plain data). So tests build
the model there: :meth:`StudentProcess.build` pickles a portable copy (torch.nn layers, parameters, buffers,
dtype, device, train/eval mode) and trusted code in the worker (:mod:`autograder.kit.remote`) rebuilds it;
the test gets a handle it can pass to the student's functions and call methods on. On a student's own machine
(``autograder check``) the same calls run in-process on a private copy, so tests read the same either way.

Trusted code an assignment needs in the student's process lives in modules under its ``tests/`` folder,
declared in assignment.toml (``[tests] student_side = ["module"]``), shipped like the perf input generators,
and called by name: ``student_process.call("module.function", ...)``.
"""

from __future__ import annotations

import copy
import importlib.util
import pickle
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

Caller = Callable[[str, list[Any], dict[str, Any]], Any]


def _rebuildable(cls: type, keep: tuple[str, ...]) -> bool:
    module = cls.__module__ or ""
    return module == "torch" or module.startswith("torch.") or module.split(".")[0] in keep


def portable(model: nn.Module, keep: tuple[str, ...] = ()) -> nn.Module:
    """A copy of ``model`` that another process can rebuild from torch alone.

    Layers from ``torch.nn`` are kept as they are. A module of any other class (the tests' own network, the
    reference's class) must be a container that runs its children in order (as the lecture's network runs
    ``flatten`` then ``linear_relu_stack``): it becomes an ``nn.Sequential`` of the same children under the
    same names, so parameter names, ``state_dict`` and the forward pass stay the same. ``keep`` names modules
    whose classes the other process can import too (declared ``student_side`` modules).
    """
    def convert(module: nn.Module) -> nn.Module:
        for name, child in list(module.named_children()):
            module._modules[name] = convert(child)
        if _rebuildable(type(module), keep):
            return module
        own = [n for n, _ in module.named_parameters(recurse=False)] + [n for n, _ in module.named_buffers(recurse=False)]
        if own or not module._modules:
            raise TypeError(f"cannot rebuild a {type(module).__name__} in the student's process: only torch.nn "
                            "layers and containers of them cross; build it from torch.nn layers or declare its module "
                            "under [tests] student_side")
        sequential = nn.Sequential(OrderedDict(module.named_children()))
        sequential.train(module.training)
        return sequential

    return convert(copy.deepcopy(model))


def module_kind(value: object) -> str:
    """The class name of an ``nn.Module``, also for a handle into the student's process."""
    try:
        return str(value._get_name())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - anything that is not a module
        return f"not an nn.Module ({type(value).__name__})"


class StudentProcess:
    """Calls into the student's process that the tests trust: see the module docstring."""

    def __init__(self, caller: Caller, keep: tuple[str, ...] = (), runner: Any = None) -> None:
        self._caller = caller
        self._keep = keep
        self._runner = runner

    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        """Run trusted ``"module.function"`` (of :mod:`autograder.kit.remote` or a declared student_side
        module) in the student's process; values cross as in any call into student code."""
        return self._caller(function, list(args), dict(kwargs))

    def build(self, model: nn.Module) -> Any:
        """The same model, built in the student's process: same layers, parameter names and values, dtype,
        device, ``requires_grad`` and train/eval mode. Returns a handle (graded) or a private copy (local)."""
        blob = pickle.dumps(portable(model, self._keep))
        return self.call("autograder.kit.remote.build_model", blob)

    def seed(self, seed: int) -> None:
        """Seed torch's global generator in the student's process (initialisation, shuffling)."""
        self.call("autograder.kit.remote.seed", int(seed))

    def run(self, argv: list[str], *, stdin: bytes | str = b"", timeout_s: float = 30.0,
            env: dict[str, str] | None = None) -> "ProgramResult":
        """Run one of the student's programs (``["python", "plot.py", "--out", "fig.png"]``) to the end.

        Graded: a child of the student's process, so inside the sandbox (the student's account, the jail, the
        rlimits, no network), started in the student's copy of their submission (files it writes are there,
        for ``student_process.call`` helpers to read). A student's ``autograder check``: a plain subprocess in
        the submission folder. ``python``/``python3`` is the grader's interpreter; ``env`` adds variables.
        The program is killed at ``timeout_s`` or just before the test's own limit (``timed_out``); each
        output keeps its first 4 MiB (``truncated``). See autograder/isolation/programs.py.
        """
        from autograder.isolation.programs import ProgramError, check_request

        try:
            argv, data, timeout_s, env = check_request(argv, stdin, timeout_s, env)
        except ProgramError as exc:
            raise ValueError(f"student_process.run: {exc}") from None
        return ProgramResult.from_reply(self._program_runner()(argv=argv, stdin=data, timeout_s=timeout_s, env=env))

    def _program_runner(self) -> "ProgramRunner":
        if self._runner is None:
            raise RuntimeError("student_process.run needs the submission: run the tests through `autograder grade` "
                               "or `autograder check` (or pass --ag-submission DIR to pytest)")
        return self._runner


ProgramRunner = Callable[..., dict[str, Any]]  # see autograder/isolation/programs.py: remote_runner, local_runner


@dataclass(frozen=True)
class ProgramResult:
    """What a student's program did: ``student_process.run`` returns one. ``stdout``/``stderr`` are the
    output decoded as UTF-8 (undecodable bytes replaced), ``stdout_bytes``/``stderr_bytes`` the bytes."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool = False
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> "ProgramResult":
        """Build from a runner's reply, which came from the student's process: every field is checked."""
        if not isinstance(reply, dict):
            raise RuntimeError("the student's process sent back something that is not a program result")
        error = reply.get("start_error")
        if error is not None:
            from autograder.isolation.programs import start_error

            raise start_error(error)
        out, err = reply.get("stdout", b""), reply.get("stderr", b"")
        out = bytes(out) if isinstance(out, (bytes, bytearray)) else b""
        err = bytes(err) if isinstance(err, (bytes, bytearray)) else b""
        code = reply.get("returncode")
        return cls(returncode=code if type(code) is int else None, stdout=out.decode("utf-8", "replace"),
                   stderr=err.decode("utf-8", "replace"), timed_out=reply.get("timed_out") is True,
                   truncated=reply.get("truncated") is True, stdout_bytes=out, stderr_bytes=err)


def remote_caller(pool: Any) -> Caller:
    """Graded runs: a request to the worker (autograder/isolation/worker.py, ``op_trusted_call``)."""
    def call(function: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return pool.request("trusted_call", function=function, args=args, kwargs=kwargs)
    return call


def local_caller(tests_dir: Path | None) -> Caller:
    """A student's own run: import the trusted module here; declared helpers load by file path from
    ``tests_dir`` (so they are found whatever pytest put on ``sys.path``)."""
    def call(function: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        module_name, _, name = function.rpartition(".")
        if module_name.startswith("autograder."):
            module = importlib.import_module(module_name)
        else:
            module = load_by_path(module_name, tests_dir)
        return getattr(module, name)(*args, **kwargs)
    return call


def load_by_path(module_name: str, folder: Path | None) -> Any:
    """Import ``folder/module_name.py`` under a private name, once."""
    import hashlib

    where = hashlib.sha1(str(folder.resolve() if folder is not None else "").encode()).hexdigest()[:12]
    key = f"_autograder_tests.{module_name}_{where}"  # two assignments' perf_inputs.py are different modules
    if key in sys.modules:
        return sys.modules[key]
    path = (folder / f"{module_name}.py") if folder is not None else None
    if path is None or not path.is_file():
        raise ModuleNotFoundError(f"no trusted helper module {module_name}.py in {folder}")
    spec = importlib.util.spec_from_file_location(key, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module
