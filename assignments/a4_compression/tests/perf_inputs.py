"""Inputs for A4's performance test (shipped with the public tests; nothing here is secret).

Each generator is called once per timed call, in the process of the code being measured, with a
``torch.Generator`` seeded by the grader and a ``cache`` dict that lives for one batch. Both sides get the same
seed, so they compress identical weights.
"""

from __future__ import annotations

from typing import Any

import torch

IN_FEATURES, CLASSES = 64, 10


def codec_inputs(module: Any, size: int, generator: torch.Generator, device: torch.device,
                 cache: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``roundtrip(state_dict)`` on the state_dict of a fresh 64-size-size-10 MLP (float32, PyTorch-like
    initialisation: uniform in ±1/sqrt(fan_in)), new weights every call."""
    shapes = [(size, IN_FEATURES), (size, size), (CLASSES, size)]
    state: dict[str, torch.Tensor] = {}
    for index, (fan_out, fan_in) in zip((0, 2, 4), shapes):
        bound = fan_in ** -0.5
        state[f"linear_relu_stack.{index}.weight"] = (torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * bound
        state[f"linear_relu_stack.{index}.bias"] = (torch.rand(fan_out, generator=generator) * 2 - 1) * bound
    return (state,), {}
