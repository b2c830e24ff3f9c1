# Starter code for a4_compression. Replace each NotImplementedError with your implementation.
"""A4: Compression -- the ratio, lossless and lossy, and the trade-off.

The data compression ratio is the uncompressed size divided by the compressed size. Compression is possible
when the data is predictable: an order-0 code cannot beat the Shannon entropy of the symbols, so the entropy
tells you how far lossless compression can go. Model weights are nearly random in their low bytes, which is
why lossless coders barely shrink them; lossy compression (quantization, pruning) goes much further and costs
accuracy. You measure both on the a1 MLP trained on scikit-learn's digits. See README.md for the full contract.

Only ``torch``, ``numpy``, the standard library and (for the plot) ``matplotlib`` may be imported.
"""

from __future__ import annotations

import json
import math
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import torch


# ---------------------------------------------------------------- given: sizes and accuracy (do not change)
def nbytes(state_dict: dict[str, torch.Tensor]) -> int:
    """Uncompressed size of a state_dict: every tensor's ``numel() * element_size()``, summed."""
    return sum(t.numel() * t.element_size() for t in state_dict.values())


def accuracy(state_dict: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """Test accuracy of the a1 MLP (``linear_relu_stack.0/2/4`` Linear layers, ReLU between) with these weights."""
    h = x.reshape(x.shape[0], -1).float()
    layers = sorted({int(name.split(".")[1]) for name in state_dict if name.startswith("linear_relu_stack.")})
    for position, index in enumerate(layers):
        weight = state_dict[f"linear_relu_stack.{index}.weight"].float()
        bias = state_dict[f"linear_relu_stack.{index}.bias"].float()
        h = h @ weight.T + bias
        if position < len(layers) - 1:
            h = h.clamp_min(0)
    return (h.argmax(dim=1) == y).float().mean().item()


# ---------------------------------------------------------------- 1. why compression is possible
def entropy_bits(data: bytes) -> float:
    """Order-0 Shannon entropy of a byte stream, in **bits per byte**: ``-sum(p * log2(p))`` over the
    frequencies ``p`` of the 256 byte values in ``data``. 0.0 for empty data (and for a single repeated byte);
    8.0 at most (every value equally often)."""
    raise NotImplementedError("entropy_bits: count the 256 byte values, turn counts into probabilities, sum -p*log2(p) over p > 0")


def order0_bound(data: bytes) -> float:
    """The fewest bytes any order-0 lossless code (one codeword per byte value, e.g. Huffman or an ideal
    arithmetic coder with fixed symbol frequencies) can encode ``data`` in: ``len(data) * H / 8`` with ``H``
    the entropy in bits per byte. The best ratio such a code reaches is ``len(data) / order0_bound(data)``."""
    raise NotImplementedError("order0_bound: bits per byte times the number of bytes, in bytes")


def byte_plane_entropies(tensor: torch.Tensor) -> list[float]:
    """Entropy (bits per byte) of each byte plane of ``tensor``: plane ``i`` holds byte ``i`` of every element
    in its little-endian memory layout (plane 0: the least significant byte; for float32, plane 3 holds the
    sign and the top 7 exponent bits). One float per byte of the element size, in plane order.
    Works for any dtype and memory layout (take the elements in row-major order)."""
    raise NotImplementedError("byte_plane_entropies: view the elements as bytes (rows of element_size), take each column, measure its entropy")


# your helpers (the byte shuffle and its inverse, ...) can go here


# ---------------------------------------------------------------- 2. a lossless codec for model weights
def encode(state_dict: dict[str, torch.Tensor]) -> bytes:
    """Compress a state_dict losslessly into self-describing bytes that :func:`decode` turns back into the
    same tensors, **bit for bit** (NaN payloads and -0.0 included).

    - Every tensor's name, dtype and shape go into a header inside the bytes: ``decode`` gets nothing else.
    - Byte-shuffle each tensor (all its byte-0s, then all its byte-1s, ...) before a standard coder
      (``zlib`` or ``lzma`` from the standard library), so that the compressible sign/exponent bytes sit
      together.
    - Store a checksum (e.g. ``zlib.crc32``) and the lengths, so that ``decode`` can reject damaged input.
    Handle any shape (0-d, empty), any memory layout and the dtypes float32/float64/float16/bfloat16,
    int8/uint8/int16/int32/int64 and bool.
    """
    raise NotImplementedError("encode: JSON header (names, dtypes, shapes) + shuffled payloads, zlib, then magic + length + crc32")


def decode(blob: bytes) -> dict[str, torch.Tensor]:
    """The state_dict :func:`encode` compressed (same names in the same order, dtypes, shapes and bits;
    contiguous tensors). Raise ``ValueError`` with a message saying what is wrong when ``blob`` is not a
    complete, undamaged output of ``encode`` (truncated, a byte changed, not ours at all): never return
    wrong tensors."""
    raise NotImplementedError("decode: check magic, length and checksum first; then parse, checking every size against the data")


def roundtrip(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``decode(encode(state_dict))``: what the codec's time test measures. Keep it exactly like this."""
    return decode(encode(state_dict))


# your codec's constants (magic bytes, supported dtypes, ...) can go here


# ---------------------------------------------------------------- 3. lossy: quantization, packing, pruning
def quantize(weight: torch.Tensor, bits: int = 8, symmetric: bool = True, per_channel: bool = False) -> dict[str, torch.Tensor]:
    """Uniform quantization of a float tensor to ``bits`` (8 or 4) bits.

    Returns ``{"codes", "scale"}`` (symmetric) or ``{"codes", "scale", "zero_point"}`` (affine):

    - ``codes``: int8, shaped like ``weight``;
    - ``scale``: float32, shape ``()`` per tensor, ``(weight.shape[0],)`` per channel (one per output row);
    - ``zero_point`` (affine only): int8, shaped like ``scale``.

    Symmetric: ``qmax = 2**(bits-1) - 1`` (127 or 7), ``scale = max|w| / qmax`` over the tensor or row,
    ``codes = clamp(round(w / scale), -qmax, qmax)``, ``w ≈ codes * scale``.
    Affine: the range ``[lo, hi] = [min(min w, 0), max(max w, 0)]`` (so 0 is exact) maps onto
    ``[qmin, qmax] = [-2**(bits-1), 2**(bits-1) - 1]``: ``scale = (hi - lo) / (qmax - qmin)``,
    ``zero_point = clamp(round(qmin - lo / scale), qmin, qmax)``,
    ``codes = clamp(round(w / scale) + zero_point, qmin, qmax)``, ``w ≈ (codes - zero_point) * scale``.
    A tensor or row of all zeros gets ``scale = 1``. Compute in float32.
    """
    raise NotImplementedError("quantize: reduce |w| (or min/max) over everything or over each row, then scale, round and clamp")


def dequantize(q: dict[str, torch.Tensor]) -> torch.Tensor:
    """The float32 tensor a :func:`quantize` result stands for: ``(codes - zero_point) * scale``, with the scale
    (and zero point) of each row broadcast over that row when there is one per channel."""
    raise NotImplementedError("dequantize: reshape per-channel scale/zero_point to (rows, 1, ...) so they broadcast over each row")


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Two 4-bit codes per byte. ``codes``: int8 values in [-8, 7], any shape (taken in row-major order).
    Returns uint8 of shape ``(ceil(n / 2),)``: byte ``j`` holds code ``2j`` in its low nibble and code
    ``2j + 1`` in its high nibble, each as a 4-bit two's complement; an odd count leaves the last high nibble 0."""
    raise NotImplementedError("pack_int4: mask each code to 4 bits, pad to even length, combine pairs as low | high << 4")


def unpack_int4(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """Inverse of :func:`pack_int4`: the first ``numel`` codes as int8, shape ``(numel,)``, sign-extended."""
    raise NotImplementedError("unpack_int4: split low and high nibbles, interleave them, sign-extend values >= 8")


def quantized_nbytes(q: dict[str, torch.Tensor], bits: int) -> int:
    """Honest storage size of a :func:`quantize` result: the codes at ``bits`` bits each, packed
    (``ceil(numel * bits / 8)`` bytes), plus 4 bytes per scale (float32), plus 1 byte per zero point (affine)."""
    raise NotImplementedError("quantized_nbytes: codes + scales + zero points")


def sqnr_db(original: torch.Tensor, approx: torch.Tensor) -> float:
    """Signal-to-quantization-noise ratio in dB: ``10 * log10(sum(x**2) / sum((x - approx)**2))``, computed in
    float64. ``inf`` when ``approx`` equals ``original`` exactly."""
    raise NotImplementedError("sqnr_db: signal power over noise power, in decibels")


def prune_global(state_dict: dict[str, torch.Tensor], sparsity: float) -> dict[str, torch.Tensor]:
    """Global magnitude pruning: among all floating-point tensors with 2 or more dimensions (the weight
    matrices), set the ``round(sparsity * total)`` entries of smallest magnitude to zero, ranking all matrices
    together (one threshold for the whole model, not one per layer). Other tensors (biases) are unchanged.
    Returns a new state_dict (same names, order, shapes, dtypes); the input is not modified."""
    raise NotImplementedError("prune_global: concatenate |w| of every matrix, find the k smallest, zero them where they came from")


def sparse_encode(tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """Bitmask encoding of a sparse tensor: ``{"mask", "values"}``.

    - ``mask``: uint8 of shape ``(ceil(n / 8),)``, bit ``i % 8`` (least significant first) of byte ``i // 8``
      set when element ``i`` (row-major order) is nonzero;
    - ``values``: the nonzero elements in row-major order, same dtype as ``tensor``, shape ``(nnz,)``.
    Zeros (including -0.0) are not stored."""
    raise NotImplementedError("sparse_encode: boolean mask, packed 8 per byte LSB first; values = the masked elements")


def sparse_decode(encoded: dict[str, torch.Tensor], shape: list[int] | tuple[int, ...]) -> torch.Tensor:
    """The dense tensor of ``shape`` a :func:`sparse_encode` result stands for (zeros where the mask is 0)."""
    raise NotImplementedError("sparse_decode: unpack the mask bits, scatter the values into a zero tensor")


def sparse_nbytes(encoded: dict[str, torch.Tensor]) -> int:
    """Honest storage size of a :func:`sparse_encode` result: the mask's bytes plus the values' bytes."""
    raise NotImplementedError("sparse_nbytes: mask + values")


# ---------------------------------------------------------------- 4. the whole model, and the trade-off
def compress_model(state_dict: dict[str, torch.Tensor], method: dict[str, Any]) -> bytes:
    """Compress a float32 state_dict with ``method``, into self-describing bytes for :func:`decompress_model`.

    ``method`` keys (all optional): ``"sparsity"`` (0 to 1, default 0: no pruning), ``"bits"`` (32: keep
    float32; 8 or 4: quantize), ``"symmetric"`` (default True), ``"per_channel"`` (default True).
    Weight matrices (floating point, 2+ dimensions) are pruned globally (:func:`prune_global`), then
    quantized; the sparsity must be **encoded** (a bitmask or CSR: store only the kept entries), not just
    zeroed. Other tensors are stored losslessly. ``len()`` of the result is the honest size: everything
    ``decompress_model`` needs (codes, scales, zero points, masks, shapes, the method) is inside, and nothing
    else is (``decompress_model`` must work in a fresh process that never saw the weights).
    """
    raise NotImplementedError("compress_model: per weight matrix: mask + (codes packed | float values) + scales/zero points; then encode()")


def decompress_model(blob: bytes) -> dict[str, torch.Tensor]:
    """The float32 state_dict (same names, order and shapes) that :func:`compress_model` compressed, with the
    lossy steps applied (pruned entries 0, quantized entries dequantized)."""
    raise NotImplementedError("decompress_model: decode the parts, then rebuild each weight: unpack codes, dequantize, scatter through the mask")


# the methods your trade-off explores can go here


def best_method() -> dict[str, Any]:
    """Your best ``method`` for :func:`compress_model`: the highest ratio whose accuracy on the digits test set
    stays within 1 percentage point of the uncompressed model's (see README.md for how it is graded)."""
    raise NotImplementedError("best_method: pick from your own trade-off curve")


def tradeoff_points(state_dict: dict[str, torch.Tensor], x_test: torch.Tensor, y_test: torch.Tensor) -> list[dict[str, Any]]:
    """The accuracy/ratio trade-off of your methods on this model: one dict per method,
    ``{"method": <the method dict, with a "name">, "ratio": nbytes(state_dict) / len(compressed),
    "accuracy": accuracy(decompressed, x_test, y_test)}``. At least 5 methods: lossless (``"bits": 32``,
    no pruning), int8, int4, pruning, and a combination of pruning and quantization."""
    raise NotImplementedError("tradeoff_points: compress, decompress and evaluate every method")


def plot_tradeoff(points: list[dict[str, Any]], path: str) -> None:
    """Plot accuracy (y) against compression ratio (x, log scale) with matplotlib, one labelled marker per point,
    axis labels naming the ratio and the accuracy, and save it as a PNG at ``path``.

    Also write ``path`` with the suffix ``.json`` (``tradeoff.png`` -> ``tradeoff.json``): ``{"xlabel": ...,
    "ylabel": ..., "points": [{"label": ..., "x": ..., "y": ...}, ...]}`` **read back from the figure you drew**
    (the axes' labels and the markers' coordinates, e.g. ``ax.collections[0].get_offsets()``), so the grader can
    check what the picture shows without looking at pixels."""
    raise NotImplementedError("plot_tradeoff: scatter, annotate, label, save; then read the axes back into the JSON")


# ---------------------------------------------------------------- given: the command that writes the plot
def train_digits_mlp(seed: int = 0, epochs: int = 10, hidden: int = 512):  # type: ignore[no-untyped-def]
    """The a1 MLP (64-512-512-10) trained on scikit-learn's digits with Adam; returns
    ``(state_dict, x_test, y_test)`` (stratified 75/25 split, ``random_state=0``, pixels scaled to [0, 1])."""
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch import nn

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data / 16.0, digits.target, test_size=0.25,
                                                        stratify=digits.target, random_state=0)
    x_train, x_test = torch.tensor(x_train, dtype=torch.float32), torch.tensor(x_test, dtype=torch.float32)
    y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    stack = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    model = nn.Sequential()
    model.add_module("linear_relu_stack", stack)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(x_train), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            F.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
    state = {name: value.detach().clone() for name, value in model.state_dict().items()}
    return state, x_test, y_test


def main(argv: list[str]) -> int:
    """``python compression.py [tradeoff.png]``: train the digits MLP, measure the trade-off, write the plot."""
    path = argv[1] if len(argv) > 1 else "tradeoff.png"
    state, x_test, y_test = train_digits_mlp()
    points = tradeoff_points(state, x_test, y_test)
    for point in points:
        print(f"{str(point['method'].get('name', point['method'])):<24} ratio {point['ratio']:7.2f}x  "
              f"accuracy {point['accuracy']:.2%}")
    plot_tradeoff(points, path)
    print(f"wrote {path} and {Path(path).with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
