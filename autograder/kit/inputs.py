"""Random test inputs drawn from the test's ``rng`` (a ``torch.Generator`` seeded per run and test), so a
failing run replays with ``--ag-seed N``."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


def randint(rng: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high], both included."""
    return int(torch.randint(low, high + 1, (), generator=rng))


def randn(rng: torch.Generator, *shape: int, dtype: torch.dtype = torch.float32,
          device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard-normal values of ``shape``, drawn in float32 on the CPU (the same draw on every machine) and
    then cast and moved."""
    return torch.randn(*shape, generator=rng).to(dtype=dtype, device=device)


def random_targets(rng: torch.Generator, batch: int, classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Class indices (int64) for a classification loss."""
    return torch.randint(0, classes, (batch,), generator=rng).to(device)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global generator seeded, and restore its state afterwards, so a test's model
    initialisation is replayable without disturbing other tests."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.random.set_rng_state(state)
