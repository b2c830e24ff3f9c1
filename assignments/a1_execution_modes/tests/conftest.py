"""Shared helpers for A1's public and hidden tests (shipped to students with the public tests).

Tests reach the helpers through the ``helpers`` fixture (``helpers.check_tensor(...)``), which works whatever
folder or import mode pytest runs in. Everything expected is measured at grading time: gradients come from
autograd, FLOPs from ``torch.utils.flop_counter.FlopCounterMode``, saved bytes from
``torch.autograd.graph.saved_tensors_hooks``, and models from the lecture's network (or, in hidden tests, the
reference solution). You may use these helpers to check your own work.

On Gradescope your code runs in a process of its own: tensors, numbers, strings and lists/dicts of them are
copied between the tests and your code, and anything else your code returns (a model, a device) is a handle
the tests can call methods on. So the tests never hand your functions a model object of theirs: they build
the same model inside your process (``to_student``) from ``torch`` as your module imports it.
"""

from __future__ import annotations

import contextlib
import functools
import re
import types
from typing import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _seed_global_rng(seed: int) -> None:
    """Seed torch's global generator too (model initialisation, shuffling), so a run can be replayed."""
    torch.manual_seed(seed)


@pytest.fixture
def device() -> torch.device:
    """Where device-agnostic tests run: the GPU when the grader has one, else the CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


# ---------------------------------------------------------------- random test inputs
def randint(rng: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high] (both included) from the test's generator."""
    return int(torch.randint(low, high + 1, (), generator=rng))


def randn(rng: torch.Generator, *shape: int, dtype: torch.dtype = torch.float32,
          device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.randn(*shape, generator=rng, dtype=dtype).to(device)


def random_targets(rng: torch.Generator, batch: int, classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.randint(0, classes, (batch,), generator=rng).to(device)


# ---------------------------------------------------------------- comparing results
def tolerances(dtype: torch.dtype) -> dict[str, float]:
    """Tolerances for a hand-derived result versus autograd's (the two may sum in a different order)."""
    if dtype == torch.float64:
        return {"rtol": 1e-7, "atol": 1e-10}
    if dtype in (torch.float16, torch.bfloat16):
        return {"rtol": 1e-2, "atol": 1e-3}
    return {"rtol": 1e-4, "atol": 1e-6}


def check_tensor(actual: object, expected: torch.Tensor, what: str, like: str | None = None, **tolerance: float) -> None:
    """Fail with a readable message unless ``actual`` is a tensor like ``expected`` (shape, dtype, device, values)."""
    if not isinstance(actual, torch.Tensor):
        raise AssertionError(f"expected {what} to be a torch.Tensor, got {type(actual).__name__}: {actual!r:.200}")
    shape_hint = f" (like {like})" if like else ""
    if tuple(actual.shape) != tuple(expected.shape):
        raise AssertionError(f"expected {what} of shape {tuple(expected.shape)}{shape_hint}, got {tuple(actual.shape)}")
    if actual.dtype != expected.dtype:
        raise AssertionError(f"expected {what} with dtype {expected.dtype} (the inputs' dtype), got {actual.dtype}")
    if actual.device != expected.device:
        raise AssertionError(f"expected {what} on device {expected.device} (where the inputs are), got {actual.device}")
    tol = tolerance or tolerances(expected.dtype)
    torch.testing.assert_close(actual.detach(), expected.detach(), **tol,
                               msg=lambda details: f"{what} has wrong values.\n{details}")


def describe(**case: object) -> str:
    """A short description of a test case for failure messages: ``batch=1, dtype=float64``."""
    return ", ".join(f"{k}={str(v).removeprefix('torch.')}" for k, v in case.items())


def student_torch(student: object) -> object:
    """``torch`` as the student's module sees it (on Gradescope, a handle into the student's process)."""
    try:
        return student.execution_modes.torch
    except AttributeError:
        raise AssertionError("execution_modes.py must `import torch` at the top (keep the starter's imports): "
                             "the tests build their models in your process with it") from None


def to_student(student: object, model: nn.Module) -> object:
    """The same model built in the student's process: same layers, parameter names and values, dtype, device
    and train/eval mode. Containers (``Sequential``, the lecture's network) become ``nn.Sequential``s whose
    children keep their names, so ``copy.flatten``, ``copy.linear_relu_stack[0].weight`` and the forward
    pass all behave like the original's."""
    torch_ = student_torch(student)
    nn_ = torch_.nn

    def build(module: nn.Module) -> object:
        if isinstance(module, nn.Linear):
            return nn_.Linear(module.in_features, module.out_features, module.bias is not None)
        if isinstance(module, nn.ReLU):
            return nn_.ReLU()
        if isinstance(module, nn.Flatten):
            return nn_.Flatten(module.start_dim, module.end_dim)
        if isinstance(module, nn.Dropout):
            return nn_.Dropout(module.p)
        children = list(module.named_children())
        if not children:
            raise TypeError(f"to_student cannot copy a {type(module).__name__}")
        copy = nn_.Sequential()  # the containers used here run their children in order
        for name, child in children:
            copy.add_module(name, build(child))
        return copy

    copy = build(model)
    first = next(model.parameters())
    copy.to(student_dtype(student, first.dtype))
    copy.to(str(first.device))
    copy.load_state_dict({name: value.detach() for name, value in model.state_dict().items()})
    copy.train(model.training)
    return copy


def student_dtype(student: object, dtype: torch.dtype) -> object:
    """``dtype`` as an object of the student's process (a dtype sent from the tests would arrive as a string)."""
    return getattr(student_torch(student), str(dtype).removeprefix("torch."))


def seed_student(student: object, seed: int) -> None:
    """Seed torch's global generator in the student's process (initialisation, shuffling) for a replayable run."""
    student_torch(student).manual_seed(seed)


def module_kind(value: object) -> str:
    """The class name of an ``nn.Module``, also for a handle into the student's process."""
    try:
        return str(value._get_name())  # type: ignore[attr-defined]
    except AttributeError:
        return f"not an nn.Module ({type(value).__name__})"


def device_type(value: object) -> str | None:
    """``"cpu"``, ``"cuda"``, ... for a ``torch.device`` (or a handle to one); None for anything else."""
    if isinstance(value, torch.device):
        return value.type
    if value is None or isinstance(value, (str, bytes, int, float, list, tuple, dict, torch.Tensor)):
        return None
    found = re.fullmatch(r"device\(type='(\w+)'(?:, index=\d+)?\)", repr(value))
    return found.group(1) if found else None


@contextlib.contextmanager
def no_autograd(what: str, student: object | None = None) -> Iterator[None]:
    """Run a hand-derived backward: grad mode off, and any call into autograd's engine fails the test.

    Autograd's ``.backward()`` and ``torch.autograd.grad`` both go through ``torch.autograd._engine_run_backward``;
    it is replaced while the block runs, in this process and, when given ``student`` (the ``submission``
    fixture) and the student's code runs in a process of its own (Gradescope), in that process too, where a
    call then fails with "'NoneType' object is not callable" at the student's ``.backward()`` line.
    """
    import torch.autograd as autograd

    original = getattr(autograd, "_engine_run_backward", None)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{what} called autograd (.backward() or torch.autograd.grad); "
                             "derive this gradient by hand with tensor operations instead")

    remote = None
    their_torch = getattr(getattr(student, "execution_modes", None), "torch", torch) if student is not None else torch
    if their_torch is not torch:  # their code runs in a process of its own: patch autograd there too
        remote = their_torch.autograd
        remote_original = getattr(remote, "_engine_run_backward", None)
        if remote_original is None:
            remote = None
        else:
            remote._engine_run_backward = None  # only plain values can be sent there; calling None fails
    if original is not None:
        autograd._engine_run_backward = refuse
    try:
        with torch.no_grad():
            yield
    finally:
        if original is not None:
            autograd._engine_run_backward = original
        if remote is not None:
            try:
                remote._engine_run_backward = remote_original
            except Exception:  # their process is gone; a fresh one starts unpatched
                pass


# ---------------------------------------------------------------- autograd ground truth
def autograd_param_grads(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss and parameter gradients of ``F.cross_entropy(model(x), targets)`` computed by autograd."""
    model.zero_grad()
    with torch.enable_grad():
        oracle_loss = F.cross_entropy(model(x), targets)  # the oracle: autograd's gradients
        oracle_loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    model.zero_grad()
    return oracle_loss.detach(), grads


# ---------------------------------------------------------------- models
class LectureNetwork(nn.Module):
    """The lecture's MLP (the model NeuralNetwork must match), for the public tests, which run without the
    reference solution. Same attributes and parameter names as NeuralNetwork."""

    def __init__(self, in_features: int = 28 * 28, hidden_features: int = 512, num_classes: int = 10) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        widths = [in_features, hidden_features, hidden_features, num_classes]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        self.linear_relu_stack = nn.Sequential(*layers[:-1])  # no ReLU after the last Linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_relu_stack(self.flatten(x))


# ---------------------------------------------------------------- models described by layer sizes
def make_mlp(layer_sizes: list[int]) -> nn.Sequential:
    """Flatten, Linear(s[0], s[1]), ReLU, ..., Linear(s[-2], s[-1]) with no ReLU after the last Linear."""
    layers: list[nn.Module] = [nn.Flatten()]
    for index, (fan_in, fan_out) in enumerate(zip(layer_sizes, layer_sizes[1:])):
        if index:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


def measured_layer_flops(model: nn.Module, x: torch.Tensor, mode: str, targets: torch.Tensor | None = None) -> list[int]:
    """FLOPs of each ``nn.Linear`` of ``model`` (forward order) as FlopCounterMode counts them.

    ``"inference"``: one forward pass under ``torch.inference_mode()``. ``"training"``: forward, mean
    cross-entropy against ``targets`` and backward, with an input that does not require grad.
    """
    from torch.utils.flop_counter import FlopCounterMode

    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    counter = FlopCounterMode(display=False)  # display=True would need the `tabulate` package
    if mode == "inference":
        model.eval()
        with counter, torch.inference_mode():
            model(x)
    elif mode == "training":
        model.train()
        model.zero_grad()
        with counter, torch.enable_grad():
            F.cross_entropy(model(x), targets).backward()
        model.zero_grad()
    else:
        raise ValueError(mode)
    counts = counter.get_flop_counts()
    root = type(model).__name__
    return [int(sum(counts.get(f"{root}.{name}", {}).values())) for name in names]


def measured_saved_bytes(model: nn.Module, x: torch.Tensor, mode: str) -> int:
    """Bytes of the distinct non-parameter tensors one forward pass saves for backward.

    Every tensor autograd saves passes through the ``pack`` hook of ``saved_tensors_hooks``; tensors that
    share memory (a tensor saved by two operations, a view of the input) are counted once, by storage.
    """
    parameter_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameter_storages:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        if mode == "training":
            model.train()
            with torch.enable_grad():
                out = model(x)
        elif mode == "inference":
            model.eval()
            with torch.inference_mode():  # no graph, so the pack hook never runs  # leak-ok
                out = model(x)
        else:
            raise ValueError(mode)
    total = sum(saved.values())  # computed while `out` (and so every saved tensor) is still alive
    del out
    return total


# ---------------------------------------------------------------- scikit-learn's digits
@functools.lru_cache(maxsize=None)
def _digits_arrays(random_state: int):  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_digits  # 1797 8x8 images shipped inside scikit-learn: no download
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    return train_test_split(digits.data / 16.0, digits.target, test_size=0.25,
                            stratify=digits.target, random_state=random_state)


def digits_split(random_state: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_train, y_train, x_test, y_test)``: a stratified 75/25 split, pixels scaled to [0, 1]; fresh tensors."""
    x_train, x_test, y_train, y_test = _digits_arrays(random_state)
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.int64)  # noqa: E731
    return as_x(x_train), as_y(y_train), as_x(x_test), as_y(y_test)


def held_out_accuracy(trained: object, x_test: torch.Tensor, y_test: torch.Tensor, model_class: type = LectureNetwork) -> float:
    """Accuracy of ``trained``'s weights, loaded into a fresh ``model_class`` (the lecture's MLP), on the held-out digits.

    Loading the weights into a known model means the accuracy measures the training, whatever the returned
    object's own forward does.
    """
    state_dict = getattr(trained, "state_dict", None)
    if state_dict is None:
        raise AssertionError(f"expected train_digits to return the trained NeuralNetwork, got {type(trained).__name__}")
    state = {name: value.detach().cpu().float() for name, value in state_dict().items()}
    key = "linear_relu_stack.0.weight"
    if key not in state:
        raise AssertionError(f"the returned model has no parameter {key!r}; it must be a NeuralNetwork "
                             f"(its parameters are: {', '.join(state) or 'none'})")
    hidden, in_features = state[key].shape
    model = model_class(in_features, hidden, 10)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise AssertionError(f"the returned model's parameters do not fit NeuralNetwork({in_features}, {hidden}, 10): {exc}") from None
    model.eval()
    with torch.no_grad():
        predictions = model(x_test).argmax(dim=1)
    return (predictions == y_test).float().mean().item()


@pytest.fixture(scope="session")
def helpers() -> types.SimpleNamespace:
    """The helper functions of this file, for tests: ``helpers.check_tensor(actual, expected, "grad_x")``."""
    return types.SimpleNamespace(
        randint=randint, randn=randn, random_targets=random_targets, tolerances=tolerances,
        check_tensor=check_tensor, describe=describe, no_autograd=no_autograd, student_torch=student_torch,
        to_student=to_student, student_dtype=student_dtype, seed_student=seed_student, module_kind=module_kind,
        device_type=device_type,
        autograd_param_grads=autograd_param_grads, LectureNetwork=LectureNetwork, make_mlp=make_mlp, measured_layer_flops=measured_layer_flops,
        measured_saved_bytes=measured_saved_bytes, digits_split=digits_split, held_out_accuracy=held_out_accuracy,
    )
