"""A3's own test helpers, reached through the ``helpers`` fixture; generic ones come from ``autograder.kit``.

The fake hardware (powercap trees, NVML, a clock, counter-moving work) lives in ``fake_energy.py`` and is built
inside your process by ``student_process.call("fake_energy....")``; the helpers here describe the trees and
compute what a correct meter reads from them. You may use both to test your own work.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from autograder import kit

helpers = kit.helpers_fixture(__name__)  # this file's public functions: helpers.zone(...), helpers.layer_macs(...)


@pytest.fixture(autouse=True)
def _seed_global_rng(seed: int) -> None:
    torch.manual_seed(seed)


def zone(dir_name: str, name: str, energy_uj: int = 0, max_energy_range_uj: int = 262_143_999_938) -> dict[str, Any]:
    """One zone of a fake powercap tree (fake_energy.make_powercap's format); the default range is a real one."""
    return {"dir": dir_name, "name": name, "energy_uj": int(energy_uj), "max_energy_range_uj": int(max_energy_range_uj)}


def wrapped_total_uj(readings: list[int], max_range_uj: int) -> int:
    """What a counter moved over consecutive readings, adding the range at each decrease (one wrap at most)."""
    return sum(b - a + (max_range_uj if b < a else 0) for a, b in zip(readings, readings[1:]))


def mlp(sizes: list[int]) -> nn.Sequential:
    """a1's MLP layout: Linear(s[0], s[1]), ReLU, ..., Linear(s[-2], s[-1])."""
    layers: list[nn.Module] = []
    for position in range(len(sizes) - 1):
        layers += [nn.ReLU()] if position else []
        layers.append(nn.Linear(sizes[position], sizes[position + 1]))
    return nn.Sequential(*layers)


def layer_macs(sizes: list[int], batch: int) -> list[int]:
    """Multiply-accumulates of each Linear in one inference of ``mlp(sizes)``: batch x its weight's elements
    (what FlopCounterMode counts as 2 FLOPs each; torch's own shapes, nothing typed by hand)."""
    return [batch * module.weight.numel() for module in mlp(sizes) if isinstance(module, nn.Linear)]


def parameter_counts(sizes: list[int]) -> list[int]:
    """Parameters (weight and bias) of each Linear of ``mlp(sizes)``, counted by torch."""
    return [sum(p.numel() for p in module.parameters()) for module in mlp(sizes) if isinstance(module, nn.Linear)]


def close(got: Any, expected: float, what: str, rel: float = 1e-9) -> None:
    """``got`` is a real number within ``rel`` of ``expected``; the message says both."""
    assert isinstance(got, (int, float)) and not isinstance(got, bool), f"expected {what} to be a number, got {got!r:.200}"
    assert abs(got - expected) <= rel * max(abs(expected), 1e-300), f"{what}: expected {expected!r}, got {got!r}"
