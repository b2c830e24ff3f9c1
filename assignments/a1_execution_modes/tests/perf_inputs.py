"""Inputs for A1's performance tests (shipped with the public tests; nothing here is secret).

Each generator is called once per timed call, in the process of the code being measured, with a
``torch.Generator`` seeded by the grader for the round and a ``cache`` dict that lives for one batch. Both
sides of a comparison get the same seed, so they see identical models and data. Models are built from the
generator alone (their own initialisation is overwritten), so any correct ``NeuralNetwork`` gets the same
parameters as the reference's.
"""

from __future__ import annotations

from typing import Any

import torch

IN_FEATURES, HIDDEN, CLASSES = 784, 512, 10


def _model(module: Any, generator: torch.Generator, device: torch.device) -> Any:
    """``module.NeuralNetwork()`` with parameters drawn from ``generator`` (same on both sides)."""
    model = module.NeuralNetwork(IN_FEATURES, HIDDEN, CLASSES)
    with torch.no_grad():
        for _, parameter in sorted(model.named_parameters()):
            fan_in = parameter.shape[-1] if parameter.dim() > 1 else HIDDEN
            parameter.copy_(torch.randn(parameter.shape, generator=generator) / fan_in ** 0.5)
    return model.to(device)


def predict_inputs(module: Any, size: int, generator: torch.Generator, device: torch.device,
                   cache: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``predict(model, x)`` on a fresh batch of ``size`` images each call; one model per batch."""
    if "model" not in cache:
        cache["model"] = _model(module, generator, device)
    x = torch.randn(size, 1, 28, 28, generator=generator).to(device)
    return (cache["model"], x), {}


def sgd_step_inputs(module: Any, size: int, generator: torch.Generator, device: torch.device,
                    cache: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``sgd_step(model, x, targets, lr)``: consecutive training steps on one model, fresh data each step."""
    if "model" not in cache:
        cache["model"] = _model(module, generator, device)
    x = torch.randn(size, 1, 28, 28, generator=generator).to(device)
    targets = torch.randint(0, CLASSES, (size,), generator=generator).to(device)
    return (cache["model"], x, targets, 0.01), {}
