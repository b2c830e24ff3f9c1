"""A4's own test helpers (the trained digits MLP, its accuracy, oracles for entropy, byte planes and the
quantization formulas), reached through the ``helpers`` fixture; generic ones come from ``autograder.kit``.
Expected values are computed while grading, by numpy and by these formulas. You may use them to check your work.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder import kit

helpers = kit.helpers_fixture(__name__)  # this file's functions: helpers.trained_digits(), ...

WEIGHTS = ("linear_relu_stack.0.weight", "linear_relu_stack.2.weight", "linear_relu_stack.4.weight")


@functools.lru_cache(maxsize=None)
def _trained(seed: int, epochs: int, hidden: int) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits  # 1797 8x8 images shipped inside scikit-learn: no download
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data / 16.0, digits.target, test_size=0.25,
                                                        stratify=digits.target, random_state=0)
    x_train, x_test = torch.tensor(x_train, dtype=torch.float32), torch.tensor(x_test, dtype=torch.float32)
    y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same weights, bit for bit, on every machine with this torch
    try:
        with kit.seeded(seed):
            stack = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, 10))
            model = nn.Sequential()
            model.add_module("linear_relu_stack", stack)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            generator = torch.Generator().manual_seed(seed)
            for _ in range(epochs):
                order = torch.randperm(len(x_train), generator=generator)
                for start in range(0, len(x_train), 64):
                    batch = order[start:start + 64]
                    optimizer.zero_grad()
                    with torch.enable_grad():
                        F.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
                    optimizer.step()
    finally:
        torch.set_num_threads(threads)
    state = {name: value.detach().clone() for name, value in model.state_dict().items()}
    return state, x_test, y_test


def trained_digits(seed: int = 0, epochs: int = 10, hidden: int = 512) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """``(state_dict, x_test, y_test)``: the a1 MLP (64-512-512-10, parameters named ``linear_relu_stack.0.weight``
    ...) trained with Adam on scikit-learn's digits (stratified 75/25 split, ``random_state=0``, pixels in [0, 1]),
    the same weights in every run (fixed seed); trained once per session, fresh copies each call."""
    state, x_test, y_test = _trained(seed, epochs, hidden)
    return {name: value.clone() for name, value in state.items()}, x_test.clone(), y_test.clone()


def accuracy(state_dict: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of the MLP with these weights (Linear layers ``linear_relu_stack.0/2/4``, ReLU between)."""
    h = x.float()
    for position, index in enumerate((0, 2, 4)):
        h = h @ state_dict[f"linear_relu_stack.{index}.weight"].float().T + state_dict[f"linear_relu_stack.{index}.bias"].float()
        h = h.clamp_min(0) if position < 2 else h
    return (h.argmax(dim=1) == y).float().mean().item()


def raw_nbytes(state_dict: dict[str, torch.Tensor]) -> int:
    """The uncompressed size: every tensor's ``numel() * element_size()``."""
    return sum(t.numel() * t.element_size() for t in state_dict.values())


def entropy_oracle(data: bytes) -> float:
    """Order-0 entropy in bits per byte, by numpy."""
    if not data:
        return 0.0
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log2(p)).sum())


def byte_planes(tensor: torch.Tensor) -> list[bytes]:
    """Plane ``i`` = byte ``i`` (little-endian) of every element, row-major, by numpy."""
    flat = tensor.detach().reshape(-1).contiguous()
    width = flat.element_size()
    raw = flat.to(torch.uint8).numpy() if flat.dtype == torch.bool else flat.view(torch.uint8).numpy()
    table = raw.reshape(-1, width)
    return [table[:, plane].tobytes() for plane in range(width)]


def expected_scales(weight: torch.Tensor, bits: int, symmetric: bool, per_channel: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(scale, zero_point)`` by the handout's formulas (zero_point None when symmetric), float32 / int8."""
    flat = weight.float().reshape(weight.shape[0] if per_channel else 1, -1)  # one row per scale
    top, bottom = 2 ** (bits - 1) - 1, -(2 ** (bits - 1))  # the handout's qmax and qmin
    zero_point = None
    if symmetric:
        scale = flat.abs().amax(dim=1) / top
    else:
        low, high = flat.amin(dim=1).clamp_max(0), flat.amax(dim=1).clamp_min(0)
        scale = (high - low) / (top - bottom)
    scale[scale == 0] = 1.0  # an all-zero tensor or row
    if not symmetric:
        zero_point = torch.clamp(torch.round(bottom - low / scale), bottom, top).to(torch.int8)
    shape = (weight.shape[0],) if per_channel else ()
    return scale.reshape(shape), None if zero_point is None else zero_point.reshape(shape)


def quantized_size(numel: int, bits: int, scales: int, zero_points: int) -> int:
    """The honest size of a quantized tensor: packed codes, 4 bytes per scale, 1 byte per zero point."""
    return math.ceil(numel * bits / 8) + 4 * scales + zero_points


def sqnr(original: torch.Tensor, approx: torch.Tensor) -> float:
    """10·log10(signal power / noise power) in float64 (inf when exact)."""
    x = original.double()
    noise = float(((x - approx.double()) ** 2).sum())
    return math.inf if noise == 0 else 10 * math.log10(float((x ** 2).sum()) / noise)


def trained_weight(name: str = WEIGHTS[1]) -> torch.Tensor:
    """One weight matrix of the trained MLP (default: the 512x512 hidden layer)."""
    return trained_digits()[0][name]


@pytest.fixture
def check_png():  # type: ignore[no-untyped-def]
    """``check_png(data, what)``: the PNG signature and a sane IHDR size, read from the header only (no pixels)."""
    import struct

    def check(data: object, what: str) -> tuple[int, int]:
        assert isinstance(data, bytes) and data[:8] == b"\x89PNG\r\n\x1a\n", (
            f"expected {what} to be a PNG file (it must start with the PNG signature); save it with "
            "fig.savefig(path, format='png')")
        assert len(data) >= 33 and data[12:16] == b"IHDR", f"{what} has no PNG header chunk (IHDR)"
        width, height = struct.unpack(">II", data[16:24])
        assert 100 <= width <= 5000 and 100 <= height <= 5000, (
            f"{what} is {width}x{height} pixels; expected a readable figure (100 to 5000 pixels each way)")
        return width, height
    return check
