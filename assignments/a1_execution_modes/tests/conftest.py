"""A1's own test helpers (the lecture's network, MLPs by layer sizes, their measured costs, the digits data),
reached through the ``helpers`` fixture; generic ones come from ``autograder.kit``. Expected values are
measured while grading: gradients by autograd, FLOPs by FlopCounterMode, saved bytes by saved_tensors_hooks.
You may use these helpers to check your own work."""

from __future__ import annotations

import contextlib
import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder import kit


@pytest.fixture(autouse=True)
def _seed_global_rng(seed: int) -> None:
    torch.manual_seed(seed)  # model initialisation and shuffling replay with the run's seed too


@pytest.fixture
def device() -> torch.device:
    """Where device-agnostic tests run: the GPU when the grader has one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


helpers = kit.helpers_fixture(__name__)  # this file's functions and classes: helpers.make_mlp(...)


class LectureNetwork(nn.Module):
    """The lecture's MLP (what NeuralNetwork must match), for the public tests, which have no reference."""

    def __init__(self, in_features: int = 28 * 28, hidden_features: int = 512, num_classes: int = 10) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(*make_mlp([in_features, hidden_features, hidden_features, num_classes])[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_relu_stack(self.flatten(x))


def make_mlp(layer_sizes: list[int]) -> nn.Sequential:
    """Flatten, Linear(s[0], s[1]), ReLU, ..., Linear(s[-2], s[-1]) with no ReLU after the last Linear."""
    layers: list[nn.Module] = [nn.Flatten()]
    for index, (fan_in, fan_out) in enumerate(zip(layer_sizes, layer_sizes[1:])):
        layers += [nn.ReLU()] if index else []
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


def autograd_param_grads(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss and parameter gradients of ``F.cross_entropy(model(x), targets)``, computed by autograd."""
    model.zero_grad()
    with torch.enable_grad():
        oracle_loss = F.cross_entropy(model(x), targets)
        oracle_loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    model.zero_grad()
    return oracle_loss.detach(), grads


BACKWARD_PARTS = ("linear_backward", "relu_backward", "cross_entropy_backward")  # each has tests of its own


def check_mlp_backward(student, student_process, submitted_source, model: nn.Module, x: torch.Tensor,  # type: ignore[no-untyped-def]
                       targets: torch.Tensor, case: str) -> None:
    """``mlp_backward`` on a copy of ``model`` in the student's process, against autograd on ``model``.

    One bug, one charge (:func:`autograder.kit.charge_once`): when the only fault is in one of the three
    functions it chains (their own tests charge for it), this check passes and says which one."""
    kit.assert_by_hand(submitted_source("execution_modes.py"), "mlp_backward", charged_elsewhere=BACKWARD_PARTS)
    expected_loss, expected = autograd_param_grads(model, x, targets)

    def theirs(guarded: bool):  # type: ignore[no-untyped-def]
        """(their result, their copy of the model) for a fresh copy built in their process."""
        copy = student_process.build(model).requires_grad_(False)  # their copy: no autograd possible on it
        with kit.no_autograd(student_process) if guarded else contextlib.nullcontext():
            return student.mlp_backward(copy, x, targets), copy

    def compare(result, loss: torch.Tensor, grads: dict[str, torch.Tensor]) -> None:  # type: ignore[no-untyped-def]
        got, copy = result
        assert isinstance(got, tuple) and len(got) == 2, f"expected mlp_backward to return (loss, grads), got {got!r:.200}"
        kit.assert_tensor(got[0], loss, f"loss ({case})", like="a 0-dim tensor")
        assert isinstance(got[1], dict) and set(got[1]) == set(grads), (
            f"expected grads to be a dict with the keys of model.named_parameters(): {sorted(grads)}; "
            f"got {sorted(got[1]) if isinstance(got[1], dict) else type(got[1]).__name__}")
        for name, value in grads.items():
            kit.assert_tensor(got[1][name], value, f"grads[{name!r}] ({case})", like=f"the parameter, {tuple(value.shape)}")
        after = copy.state_dict()
        for name, value in model.state_dict().items():
            assert torch.equal(after[name], value), f"mlp_backward changed the parameter {name}; it must only compute gradients"

    def blame() -> str | None:
        faults, loss, grads = chain_of_their_parts(student, student_process, model, x, targets)
        if not faults:
            return None
        compare(theirs(guarded=False), loss, grads)  # raises (so: no excuse) unless it is exactly their chain
        return " and ".join(sorted(faults)) + (" is" if len(faults) == 1 else " are") + " wrong"

    kit.charge_once(lambda: compare(theirs(guarded=True), expected_loss, expected), blame)


def chain_of_their_parts(student, student_process, model: nn.Module, x: torch.Tensor,  # type: ignore[no-untyped-def]
                         targets: torch.Tensor) -> tuple[set[str], torch.Tensor, dict[str, torch.Tensor]]:
    """The correct chain rule over the student's own three backward functions, run here in the test: the
    loss and gradients their ``mlp_backward`` should give if it chains them right, and which of them were
    wrong (or used autograd) on the way."""
    faults: set[str] = set()

    def part(name: str, call, truth: tuple[torch.Tensor, ...]):  # type: ignore[no-untyped-def]
        try:
            with kit.no_autograd(student_process):
                out = call()
        except Exception:  # noqa: BLE001 - autograd refused, or their error: at fault; see what it gives unguarded
            faults.add(name)
            return call()
        outs = out if isinstance(out, tuple) else (out,)
        try:
            assert len(outs) == len(truth)
            for value, want in zip(outs, truth):
                kit.assert_tensor(value, want, name)
        except AssertionError:
            faults.add(name)
        return out

    stack = list(model.linear_relu_stack)
    with torch.no_grad():
        seen = [model.flatten(x)]  # seen[i]: what stack[i] receives; seen[-1]: the logits
        for module in stack:
            seen.append(module(seen[-1]))
        logits = seen[-1].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            true_loss = F.cross_entropy(logits, targets)
            true_loss.backward()
        loss, grad = part("cross_entropy_backward", lambda: student.cross_entropy_backward(seen[-1], targets),
                          (true_loss.detach(), logits.grad))
        by_name: dict[str, torch.Tensor] = {}
        for position in range(len(stack) - 1, -1, -1):
            module, given, g = stack[position], seen[position], grad
            if isinstance(module, nn.Linear):
                grad, weight_grad, bias_grad = part("linear_backward", lambda: student.linear_backward(g, given, module.weight),
                                                    (g @ module.weight, g.T @ given, g.sum(0)))
                by_name[f"linear_relu_stack.{position}.weight"], by_name[f"linear_relu_stack.{position}.bias"] = weight_grad, bias_grad
            else:
                grad = part("relu_backward", lambda: student.relu_backward(g, given), (g * (given > 0).to(g.dtype),))
    return faults, loss, {name: by_name[name] for name, _ in model.named_parameters()}


def measured_layer_flops(model: nn.Module, x: torch.Tensor, mode: str, targets: torch.Tensor | None = None) -> list[int]:
    """FLOPs of each Linear in order: a forward under inference_mode, or forward + cross-entropy + backward."""
    def run() -> None:
        if mode == "inference":
            with torch.inference_mode():  # leak-ok
                model.eval()(x)
        else:
            model.train().zero_grad()
            with torch.enable_grad():
                F.cross_entropy(model(x), targets).backward()
            model.zero_grad()
    counts = kit.flops_per_module(run, root=type(model).__name__)
    return [counts.get(name, 0) for name, module in model.named_modules() if isinstance(module, nn.Linear)]


def measured_saved_bytes(model: nn.Module, x: torch.Tensor, mode: str) -> int:
    """Bytes of the distinct non-parameter tensors one forward pass keeps for backward (saved_tensors_hooks)."""
    def run() -> torch.Tensor:
        if mode == "training":
            with torch.enable_grad():
                return model.train()(x)
        with torch.inference_mode():  # no graph, so the pack hook never runs  # leak-ok
            return model.eval()(x)
    return kit.saved_tensor_bytes(run, exclude=model.parameters())


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
    return (torch.tensor(x_train, dtype=torch.float32), torch.tensor(y_train), torch.tensor(x_test, dtype=torch.float32),
            torch.tensor(y_test))


def held_out_accuracy(trained: object, x_test: torch.Tensor, y_test: torch.Tensor, model_class: type = LectureNetwork) -> float:
    """Accuracy of ``trained``'s weights loaded into a fresh ``model_class`` (it measures the training,
    whatever the returned object's own forward does)."""
    try:
        state = {name: value.detach().cpu().float() for name, value in trained.state_dict().items()}
        hidden, in_features = state["linear_relu_stack.0.weight"].shape
        model = model_class(in_features, hidden, 10)
        model.load_state_dict(state)
    except (AttributeError, KeyError, RuntimeError, ValueError) as exc:
        raise AssertionError("expected train_digits to return the trained NeuralNetwork (parameters named like "
                             f"linear_relu_stack.0.weight); loading it failed: {type(exc).__name__}: {exc}") from None
    with torch.no_grad():
        return (model.eval()(x_test).argmax(dim=1) == y_test).float().mean().item()
