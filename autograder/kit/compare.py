"""Tensor checks whose failure message finds the bug: where the result differs, by how much, and what was
expected there, instead of a bare ``assert``."""

from __future__ import annotations

from typing import Any

import torch


def tolerances(dtype: torch.dtype) -> dict[str, float]:
    """Tolerances for a result computed another way than the oracle's (e.g. by hand vs autograd): the two
    may sum in a different order, so the bar follows the dtype's precision."""
    if dtype == torch.float64:
        return {"rtol": 1e-7, "atol": 1e-10}
    if dtype in (torch.float16, torch.bfloat16):
        return {"rtol": 1e-2, "atol": 1e-3}
    if dtype.is_floating_point or dtype.is_complex:
        return {"rtol": 1e-4, "atol": 1e-6}
    return {"rtol": 0.0, "atol": 0.0}


def describe(**case: object) -> str:
    """A short description of a test case for failure messages: ``batch=1, dtype=float64``."""
    return ", ".join(f"{key}={str(value).removeprefix('torch.')}" for key, value in case.items())


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _position(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    position = []
    for size in reversed(shape):
        position.append(flat_index % size if size else 0)
        flat_index //= size if size else 1
    return tuple(reversed(position))


def mismatch_report(actual: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> str | None:
    """None when ``actual`` is close to ``expected`` (NaN where expected is NaN); else a few lines saying how
    many elements differ, the worst one (index, expected, got) and the largest absolute and relative errors."""
    got = actual.detach().cpu()
    want = expected.detach().cpu()
    if got.dtype == torch.bool or not (got.is_floating_point() or got.is_complex()):
        got, want = got.to(torch.float64), want.to(torch.float64)
    else:
        common = torch.promote_types(got.dtype, want.dtype)
        got, want = got.to(common), want.to(common)
    close = torch.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    difference = (got - want).abs()
    difference = torch.where(torch.isnan(difference), torch.full_like(difference, float("inf")), difference)
    relative = difference / want.abs().clamp_min(torch.finfo(torch.float64).tiny if not want.is_complex() else 1e-300)
    flat = difference.reshape(-1)
    worst = int(torch.argmax(torch.where(close.reshape(-1), torch.zeros_like(flat), flat)))
    where = _position(worst, tuple(got.shape))
    bad = int((~close).sum())
    return (f"{bad:,} of {close.numel():,} elements differ (rtol={rtol:g}, atol={atol:g}).\n"
            f"Worst at index {list(where)}: expected {want.reshape(-1)[worst].item():.8g}, "
            f"got {got.reshape(-1)[worst].item():.8g}.\n"
            f"Greatest absolute difference {float(difference.max()):.3g}, "
            f"greatest relative difference {float(relative.max()):.3g}.")


_INTEGER_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _bits(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor's raw bits as integers, so that NaN payloads and -0.0 compare exactly."""
    if tensor.dtype == torch.bool or tensor.is_complex() or tensor.element_size() not in _INTEGER_OF_SIZE:
        return tensor.view(torch.uint8) if tensor.numel() else tensor.to(torch.uint8)
    return tensor.view(_INTEGER_OF_SIZE[tensor.element_size()])


def assert_tensor(actual: object, expected: torch.Tensor, what: str, *, like: str | None = None,
                  rtol: float | None = None, atol: float | None = None, exact: bool = False,
                  check_device: bool = True) -> None:
    """Fail with a readable message unless ``actual`` is a tensor like ``expected``: type, shape, dtype,
    device and values (``exact``: bit for bit, so NaN payloads and -0.0 count).

    ``what`` names the result for the student ("grad_weight"); ``like`` says what it should be shaped like
    ("weight, (512, 784)").
    """
    if not isinstance(actual, torch.Tensor):
        raise AssertionError(f"expected {what} to be a torch.Tensor, got {type(actual).__name__}: {_short(actual)}")
    shape_hint = f" (like {like})" if like else ""
    if tuple(actual.shape) != tuple(expected.shape):
        raise AssertionError(f"expected {what} of shape {tuple(expected.shape)}{shape_hint}, got {tuple(actual.shape)}")
    if actual.dtype != expected.dtype:
        raise AssertionError(f"expected {what} with dtype {expected.dtype} (the inputs' dtype), got {actual.dtype}")
    if check_device and actual.device != expected.device:
        raise AssertionError(f"expected {what} on device {expected.device} (where the inputs are), got {actual.device}")
    if exact:
        a, e = actual.detach().cpu().contiguous(), expected.detach().cpu().contiguous()
        if not torch.equal(_bits(a), _bits(e)):
            report = mismatch_report(a, e, 0.0, 0.0) or "the values compare equal but their bits differ (NaN payload or -0.0)"
            raise AssertionError(f"{what} differs from the expected value (it must be bit-exact).\n{report}")
        return
    tolerance = tolerances(expected.dtype)
    report = mismatch_report(actual, expected, tolerance["rtol"] if rtol is None else rtol,
                             tolerance["atol"] if atol is None else atol)
    if report is not None:
        raise AssertionError(f"{what} has wrong values.\n{report}")
