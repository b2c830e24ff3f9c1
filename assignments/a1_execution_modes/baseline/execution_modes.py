"""A deliberately naive A1 implementation, shipped with the starter for local performance previews.

`autograder check` times your predict and sgd_step against these (one sample at a time, autograd always on),
so a sensible implementation should come out well below 1×. The graded comparison is against the
reference solution, on the grader's machine, with the thresholds in assignment.toml.
"""

from __future__ import annotations

import torch
from torch import nn


class NeuralNetwork(nn.Module):
    """Same layers and parameter names as the lecture's network, built in a loop."""

    def __init__(self, in_features: int = 28 * 28, hidden_features: int = 512, num_classes: int = 10) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        widths = [in_features, hidden_features, hidden_features, num_classes]
        stack: list[nn.Module] = []
        for position, (width_in, width_out) in enumerate(zip(widths, widths[1:])):
            stack.append(nn.Linear(width_in, width_out))
            if position < 2:
                stack.append(nn.ReLU())
        self.linear_relu_stack = nn.Sequential(*stack)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_relu_stack(self.flatten(x))


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Naive: one sample at a time, with autograd recording a graph for every one."""
    rows = [model(x[i : i + 1]) for i in range(x.shape[0])]
    return torch.cat(rows).detach()


def sgd_step(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, lr: float) -> float:
    """Naive: one sample at a time, gradients accumulated, then a parameter-by-parameter update."""
    model.train()
    for _, weights in model.named_parameters():
        weights.grad = None
    total = 0.0
    for i in range(x.shape[0]):
        part = nn.functional.cross_entropy(model(x[i : i + 1]), targets[i : i + 1]) / x.shape[0]
        part.backward()
        total += float(part)
    with torch.no_grad():
        for _, weights in model.named_parameters():
            weights.sub_(weights.grad, alpha=lr)
    return total
