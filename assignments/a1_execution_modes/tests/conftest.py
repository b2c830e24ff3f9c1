"""A1's own test helpers (the lecture's network, MLPs by layer sizes, their measured costs, the digits data),
reached through the ``helpers`` fixture; generic ones come from ``autograder.kit``. Expected values are
measured while grading: gradients by autograd, FLOPs by FlopCounterMode, saved bytes by saved_tensors_hooks.
You may use these helpers to check your own work."""

from __future__ import annotations

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
