"""Inputs for {{SLUG}}'s performance tests: ``NAME(module, size, generator, device, cache) -> (args, kwargs)``,
called once per timed call in the process being measured, built from ``generator`` alone (nothing secret)."""

from __future__ import annotations

from typing import Any

import torch


def normalize_rows_inputs(module: Any, size: int, generator: torch.Generator, device: torch.device,
                          cache: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (torch.randn(size, size, generator=generator).to(device),), {}
