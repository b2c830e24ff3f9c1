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
    # BEGIN SOLUTION: count the 256 byte values, turn counts into probabilities, sum -p*log2(p) over p > 0
    if len(data) == 0:
        return 0.0
    counts = torch.bincount(torch.frombuffer(bytearray(data), dtype=torch.uint8).long(), minlength=256)
    p = counts[counts > 0].double() / len(data)
    return float(-(p * torch.log2(p)).sum())
    # END SOLUTION


def order0_bound(data: bytes) -> float:
    """The fewest bytes any order-0 lossless code (one codeword per byte value, e.g. Huffman or an ideal
    arithmetic coder with fixed symbol frequencies) can encode ``data`` in: ``len(data) * H / 8`` with ``H``
    the entropy in bits per byte. The best ratio such a code reaches is ``len(data) / order0_bound(data)``."""
    # BEGIN SOLUTION: bits per byte times the number of bytes, in bytes
    return len(data) * entropy_bits(data) / 8
    # END SOLUTION


def byte_plane_entropies(tensor: torch.Tensor) -> list[float]:
    """Entropy (bits per byte) of each byte plane of ``tensor``: plane ``i`` holds byte ``i`` of every element
    in its little-endian memory layout (plane 0: the least significant byte; for float32, plane 3 holds the
    sign and the top 7 exponent bits). One float per byte of the element size, in plane order.
    Works for any dtype and memory layout (take the elements in row-major order)."""
    # BEGIN SOLUTION: view the elements as bytes (rows of element_size), take each column, measure its entropy
    planes = _byte_planes(tensor)
    return [entropy_bits(plane.numpy().tobytes()) for plane in planes]
    # END SOLUTION


# BEGIN SOLUTION: helpers for the byte shuffle
# STARTER: # your helpers (the byte shuffle and its inverse, ...) can go here
def _byte_planes(tensor: torch.Tensor) -> torch.Tensor:
    """``(element_size, numel)`` uint8: row i is byte i of every element (little-endian machine)."""
    flat = tensor.detach().cpu().reshape(-1).contiguous()
    size = flat.element_size()
    if flat.numel() == 0:
        return torch.empty(size, 0, dtype=torch.uint8)
    as_bytes = flat.view(torch.uint8) if flat.dtype != torch.bool else flat.to(torch.uint8)
    return as_bytes.reshape(-1, size).T.contiguous()


def _from_planes(data: bytes, dtype: torch.dtype, shape: list[int]) -> torch.Tensor:
    """Inverse of :func:`_byte_planes` on its bytes."""
    size = torch.empty((), dtype=dtype).element_size()
    numel = math.prod(shape)
    planes = torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8)
    rows = planes.reshape(size, numel).T.contiguous()
    if dtype == torch.bool:
        return rows.reshape(-1).to(torch.bool).reshape(shape)
    return rows.reshape(-1).view(dtype).reshape(shape).clone()
# END SOLUTION


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
    # BEGIN SOLUTION: JSON header (names, dtypes, shapes) + shuffled payloads, zlib, then magic + length + crc32
    entries, payloads = [], []
    for name, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"encode: {name!r} is a {type(tensor).__name__}, not a tensor")
        dtype_name = str(tensor.dtype).removeprefix("torch.")
        if dtype_name not in _DTYPES:
            raise TypeError(f"encode: {name!r} has dtype {tensor.dtype}, which this codec does not support")
        payload = _byte_planes(tensor).numpy().tobytes()
        entries.append({"name": name, "dtype": dtype_name, "shape": list(tensor.shape), "bytes": len(payload)})
        payloads.append(payload)
    header = json.dumps(entries, separators=(",", ":")).encode()
    body = zlib.compress(struct.pack("<I", len(header)) + header + b"".join(payloads), 6)
    return _MAGIC + struct.pack("<QI", len(body), zlib.crc32(body)) + body
    # END SOLUTION


def decode(blob: bytes) -> dict[str, torch.Tensor]:
    """The state_dict :func:`encode` compressed (same names in the same order, dtypes, shapes and bits;
    contiguous tensors). Raise ``ValueError`` with a message saying what is wrong when ``blob`` is not a
    complete, undamaged output of ``encode`` (truncated, a byte changed, not ours at all): never return
    wrong tensors."""
    # BEGIN SOLUTION: check magic, length and checksum first; then parse, checking every size against the data
    blob = bytes(blob)
    fixed = len(_MAGIC) + 12
    if len(blob) < fixed or not blob.startswith(_MAGIC):
        raise ValueError("decode: not an encoded state_dict (missing or wrong magic bytes)")
    length, crc = struct.unpack("<QI", blob[len(_MAGIC):fixed])
    body = blob[fixed:]
    if len(body) != length:
        raise ValueError(f"decode: expected {length} bytes after the header, got {len(body)} (truncated or padded)")
    if zlib.crc32(body) != crc:
        raise ValueError("decode: checksum mismatch: the data is corrupted")
    try:
        raw = zlib.decompress(body)
        (header_len,) = struct.unpack("<I", raw[:4])
        entries = json.loads(raw[4:4 + header_len])
        offset, result = 4 + header_len, {}
        for entry in entries:
            dtype = getattr(torch, _DTYPES[entry["dtype"]])
            shape = [int(s) for s in entry["shape"]]
            size = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
            if size != entry["bytes"] or offset + size > len(raw):
                raise ValueError(f"inconsistent size for {entry['name']!r}")
            result[entry["name"]] = _from_planes(raw[offset:offset + size], dtype, shape)
            offset += size
    except (zlib.error, struct.error, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"decode: the data is damaged ({exc})") from None
    if offset != len(raw):
        raise ValueError("decode: trailing data after the last tensor")
    return result
    # END SOLUTION


def roundtrip(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``decode(encode(state_dict))``: what the codec's time test measures. Keep it exactly like this."""
    return decode(encode(state_dict))


# BEGIN SOLUTION: codec constants
# STARTER: # your codec's constants (magic bytes, supported dtypes, ...) can go here
_MAGIC = b"A4SD\x01"
_DTYPES = {name: name for name in ("float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "int32",
                                    "int64", "bool")}
# END SOLUTION


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
    # BEGIN SOLUTION: reduce |w| (or min/max) over everything or over each row, then scale, round and clamp
    if bits not in (8, 4):
        raise ValueError(f"quantize: bits must be 8 or 4, got {bits}")
    w = weight.detach().float()
    per_row = per_channel and w.dim() >= 1
    rows = w.reshape(w.shape[0], -1) if per_row else w.reshape(1, -1)
    broadcast = (-1,) + (1,) * (w.dim() - 1) if per_row else ()  # a row's scale over that row's elements
    out_shape = (rows.shape[0],) if per_row else ()
    qmax, qmin = 2 ** (bits - 1) - 1, -(2 ** (bits - 1))
    empty = torch.zeros(rows.shape[0])
    if symmetric:
        scale = (rows.abs().amax(dim=1) if rows.numel() else empty) / qmax
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        codes = torch.clamp(torch.round(w / scale.reshape(broadcast)), -qmax, qmax)
        return {"codes": codes.to(torch.int8), "scale": scale.reshape(out_shape).contiguous()}
    lo = rows.amin(dim=1).clamp_max(0) if rows.numel() else empty
    hi = rows.amax(dim=1).clamp_min(0) if rows.numel() else empty
    scale = (hi - lo) / (qmax - qmin)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero_point = torch.clamp(torch.round(qmin - lo / scale), qmin, qmax)
    codes = torch.clamp(torch.round(w / scale.reshape(broadcast)) + zero_point.reshape(broadcast), qmin, qmax)
    return {"codes": codes.to(torch.int8), "scale": scale.reshape(out_shape).contiguous(),
            "zero_point": zero_point.to(torch.int8).reshape(out_shape).contiguous()}
    # END SOLUTION


def dequantize(q: dict[str, torch.Tensor]) -> torch.Tensor:
    """The float32 tensor a :func:`quantize` result stands for: ``(codes - zero_point) * scale``, with the scale
    (and zero point) of each row broadcast over that row when there is one per channel."""
    # BEGIN SOLUTION: reshape per-channel scale/zero_point to (rows, 1, ...) so they broadcast over each row
    codes = q["codes"].float()
    scale = q["scale"].float()
    zero_point = q["zero_point"].float() if "zero_point" in q else torch.zeros_like(scale)
    if scale.dim() == 1 and codes.dim() >= 1:
        shape = (-1,) + (1,) * (codes.dim() - 1)
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    return (codes - zero_point) * scale
    # END SOLUTION


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Two 4-bit codes per byte. ``codes``: int8 values in [-8, 7], any shape (taken in row-major order).
    Returns uint8 of shape ``(ceil(n / 2),)``: byte ``j`` holds code ``2j`` in its low nibble and code
    ``2j + 1`` in its high nibble, each as a 4-bit two's complement; an odd count leaves the last high nibble 0."""
    # BEGIN SOLUTION: mask each code to 4 bits, pad to even length, combine pairs as low | high << 4
    flat = codes.reshape(-1).to(torch.int16) & 0xF
    if flat.numel() % 2:
        flat = torch.cat([flat, flat.new_zeros(1)])
    pairs = flat.reshape(-1, 2)
    return (pairs[:, 0] | (pairs[:, 1] << 4)).to(torch.uint8)
    # END SOLUTION


def unpack_int4(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """Inverse of :func:`pack_int4`: the first ``numel`` codes as int8, shape ``(numel,)``, sign-extended."""
    # BEGIN SOLUTION: split low and high nibbles, interleave them, sign-extend values >= 8
    p = packed.reshape(-1).to(torch.int16)
    nibbles = torch.stack([p & 0xF, (p >> 4) & 0xF], dim=1).reshape(-1)[:numel]
    return torch.where(nibbles >= 8, nibbles - 16, nibbles).to(torch.int8)
    # END SOLUTION


def quantized_nbytes(q: dict[str, torch.Tensor], bits: int) -> int:
    """Honest storage size of a :func:`quantize` result: the codes at ``bits`` bits each, packed
    (``ceil(numel * bits / 8)`` bytes), plus 4 bytes per scale (float32), plus 1 byte per zero point (affine)."""
    # BEGIN SOLUTION: codes + scales + zero points
    size = math.ceil(q["codes"].numel() * bits / 8) + 4 * q["scale"].numel()
    if "zero_point" in q:
        size += q["zero_point"].numel()
    return size
    # END SOLUTION


def sqnr_db(original: torch.Tensor, approx: torch.Tensor) -> float:
    """Signal-to-quantization-noise ratio in dB: ``10 * log10(sum(x**2) / sum((x - approx)**2))``, computed in
    float64. ``inf`` when ``approx`` equals ``original`` exactly."""
    # BEGIN SOLUTION: signal power over noise power, in decibels
    x = original.detach().double()
    noise = float(((x - approx.detach().double()) ** 2).sum())
    signal = float((x ** 2).sum())
    return math.inf if noise == 0 else 10 * math.log10(signal / noise)
    # END SOLUTION


def prune_global(state_dict: dict[str, torch.Tensor], sparsity: float) -> dict[str, torch.Tensor]:
    """Global magnitude pruning: among all floating-point tensors with 2 or more dimensions (the weight
    matrices), set the ``round(sparsity * total)`` entries of smallest magnitude to zero, ranking all matrices
    together (one threshold for the whole model, not one per layer). Other tensors (biases) are unchanged.
    Returns a new state_dict (same names, order, shapes, dtypes); the input is not modified."""
    # BEGIN SOLUTION: concatenate |w| of every matrix, find the k smallest, zero them where they came from
    names = [n for n, t in state_dict.items() if t.is_floating_point() and t.dim() >= 2]
    result = {n: t.detach().clone() for n, t in state_dict.items()}
    if not names:
        return result
    magnitudes = torch.cat([state_dict[n].detach().abs().reshape(-1).float() for n in names])
    k = round(sparsity * magnitudes.numel())
    drop = torch.zeros(magnitudes.numel(), dtype=torch.bool)
    if k > 0:
        drop[torch.argsort(magnitudes, stable=True)[:k]] = True
    offset = 0
    for n in names:
        count = result[n].numel()
        result[n].reshape(-1)[drop[offset:offset + count]] = 0
        offset += count
    return result
    # END SOLUTION


def sparse_encode(tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """Bitmask encoding of a sparse tensor: ``{"mask", "values"}``.

    - ``mask``: uint8 of shape ``(ceil(n / 8),)``, bit ``i % 8`` (least significant first) of byte ``i // 8``
      set when element ``i`` (row-major order) is nonzero;
    - ``values``: the nonzero elements in row-major order, same dtype as ``tensor``, shape ``(nnz,)``.
    Zeros (including -0.0) are not stored."""
    # BEGIN SOLUTION: boolean mask, packed 8 per byte LSB first; values = the masked elements
    flat = tensor.detach().reshape(-1)
    nonzero = flat != 0
    bits = torch.cat([nonzero, nonzero.new_zeros((-flat.numel()) % 8)]).reshape(-1, 8).to(torch.uint8)
    weights = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8)
    mask = (bits * weights).sum(dim=1).to(torch.uint8) if bits.numel() else torch.empty(0, dtype=torch.uint8)
    return {"mask": mask, "values": flat[nonzero].clone()}
    # END SOLUTION


def sparse_decode(encoded: dict[str, torch.Tensor], shape: list[int] | tuple[int, ...]) -> torch.Tensor:
    """The dense tensor of ``shape`` a :func:`sparse_encode` result stands for (zeros where the mask is 0)."""
    # BEGIN SOLUTION: unpack the mask bits, scatter the values into a zero tensor
    numel = math.prod(shape)
    mask = encoded["mask"].reshape(-1)
    bits = ((mask.unsqueeze(1) >> torch.arange(8, dtype=torch.uint8)) & 1).reshape(-1)[:numel].bool()
    dense = torch.zeros(numel, dtype=encoded["values"].dtype)
    dense[bits] = encoded["values"]
    return dense.reshape(shape)
    # END SOLUTION


def sparse_nbytes(encoded: dict[str, torch.Tensor]) -> int:
    """Honest storage size of a :func:`sparse_encode` result: the mask's bytes plus the values' bytes."""
    # BEGIN SOLUTION: mask + values
    return encoded["mask"].numel() + encoded["values"].numel() * encoded["values"].element_size()
    # END SOLUTION


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
    # BEGIN SOLUTION: per weight matrix: mask + (codes packed | float values) + scales/zero points; then encode()
    sparsity = float(method.get("sparsity", 0.0))
    bits = int(method.get("bits", 32))
    symmetric, per_channel = bool(method.get("symmetric", True)), bool(method.get("per_channel", True))
    if bits not in (32, 8, 4) or not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"compress_model: unsupported method {method!r}")
    pruned = prune_global(state_dict, sparsity) if sparsity > 0 else state_dict
    settings = {"sparsity": sparsity, "bits": bits, "symmetric": symmetric, "per_channel": per_channel}
    parts: dict[str, torch.Tensor] = {"method": torch.frombuffer(bytearray(json.dumps(settings).encode()), dtype=torch.uint8)}
    for name, tensor in pruned.items():
        if not (tensor.is_floating_point() and tensor.dim() >= 2):
            parts[f"raw/{name}"] = tensor
            continue
        values = tensor.detach().float()
        parts[f"shape/{name}"] = torch.tensor(list(values.shape), dtype=torch.int32)
        if bits < 32:
            q = quantize(values, bits, symmetric, per_channel)
            parts[f"scale/{name}"] = q["scale"]
            if "zero_point" in q:
                parts[f"zero_point/{name}"] = q["zero_point"]
            values = q["codes"]
        if sparsity > 0:
            encoded = sparse_encode(tensor)
            parts[f"mask/{name}"] = encoded["mask"]
            values = values.reshape(-1)[tensor.reshape(-1) != 0]
        values = values.reshape(-1)
        parts[f"values/{name}"] = pack_int4(values) if bits == 4 else values
    return encode(parts)
    # END SOLUTION


def decompress_model(blob: bytes) -> dict[str, torch.Tensor]:
    """The float32 state_dict (same names, order and shapes) that :func:`compress_model` compressed, with the
    lossy steps applied (pruned entries 0, quantized entries dequantized)."""
    # BEGIN SOLUTION: decode the parts, then rebuild each weight: unpack codes, dequantize, scatter through the mask
    parts = decode(blob)
    settings = json.loads(parts.pop("method").numpy().tobytes())
    bits = settings["bits"]
    result: dict[str, torch.Tensor] = {}
    for key, tensor in parts.items():
        kind, _, name = key.partition("/")
        if kind == "raw":
            result[name] = tensor
        elif kind == "shape":
            shape = [int(s) for s in tensor]
            numel = math.prod(shape)
            mask = parts.get(f"mask/{name}")
            keep = torch.ones(numel, dtype=torch.bool)
            if mask is not None:
                keep = ((mask.unsqueeze(1) >> torch.arange(8, dtype=torch.uint8)) & 1).reshape(-1)[:numel].bool()
            stored = parts[f"values/{name}"]
            values = unpack_int4(stored, int(keep.sum())) if bits == 4 else stored
            if bits < 32:
                scale = parts[f"scale/{name}"]
                zero_point = parts.get(f"zero_point/{name}", torch.zeros_like(scale, dtype=torch.int8))
                if scale.dim() == 1:  # one per row: each stored entry takes its row's scale and zero point
                    row = torch.arange(shape[0]).repeat_interleave(numel // shape[0] if shape[0] else 0)[keep]
                    scale, zero_point = scale[row], zero_point[row]
                values = (values.float() - zero_point.float()) * scale
            dense = torch.zeros(numel)
            dense[keep] = values.float()
            result[name] = dense.reshape(shape)
    return result
    # END SOLUTION


# BEGIN SOLUTION: the methods the trade-off explores
# STARTER: # the methods your trade-off explores can go here
METHODS: list[dict[str, Any]] = [
    {"name": "lossless", "bits": 32},
    {"name": "int8 per-tensor", "bits": 8, "per_channel": False},
    {"name": "int8 per-channel", "bits": 8},
    {"name": "int4 per-channel", "bits": 4},
    {"name": "prune 80%", "sparsity": 0.8},
    {"name": "prune 95%", "sparsity": 0.95},
    {"name": "prune 50% + int8", "sparsity": 0.5, "bits": 8},
    {"name": "prune 70% + int4", "sparsity": 0.7, "bits": 4},
]
# END SOLUTION


def best_method() -> dict[str, Any]:
    """Your best ``method`` for :func:`compress_model`: the highest ratio whose accuracy on the digits test set
    stays within 1 percentage point of the uncompressed model's (see README.md for how it is graded)."""
    # BEGIN SOLUTION: pick from your own trade-off curve
    return {"sparsity": 0.7, "bits": 4, "symmetric": True, "per_channel": True}
    # END SOLUTION


def tradeoff_points(state_dict: dict[str, torch.Tensor], x_test: torch.Tensor, y_test: torch.Tensor) -> list[dict[str, Any]]:
    """The accuracy/ratio trade-off of your methods on this model: one dict per method,
    ``{"method": <the method dict, with a "name">, "ratio": nbytes(state_dict) / len(compressed),
    "accuracy": accuracy(decompressed, x_test, y_test)}``. At least 5 methods: lossless (``"bits": 32``,
    no pruning), int8, int4, pruning, and a combination of pruning and quantization."""
    # BEGIN SOLUTION: compress, decompress and evaluate every method
    raw = nbytes(state_dict)
    points = []
    for method in METHODS:
        blob = compress_model(state_dict, method)
        points.append({"method": dict(method), "ratio": raw / len(blob),
                       "accuracy": accuracy(decompress_model(blob), x_test, y_test)})
    return points
    # END SOLUTION


def plot_tradeoff(points: list[dict[str, Any]], path: str) -> None:
    """Plot accuracy (y) against compression ratio (x, log scale) with matplotlib, one labelled marker per point,
    axis labels naming the ratio and the accuracy, and save it as a PNG at ``path``.

    Also write ``path`` with the suffix ``.json`` (``tradeoff.png`` -> ``tradeoff.json``): ``{"xlabel": ...,
    "ylabel": ..., "points": [{"label": ..., "x": ..., "y": ...}, ...]}`` **read back from the figure you drew**
    (the axes' labels and the markers' coordinates, e.g. ``ax.collections[0].get_offsets()``), so the grader can
    check what the picture shows without looking at pixels."""
    # BEGIN SOLUTION: scatter, annotate, label, save; then read the axes back into the JSON
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs, ys = [p["ratio"] for p in points], [p["accuracy"] for p in points]
    ax.scatter(xs, ys)
    labels = [str(p["method"].get("name", p["method"])) for p in points]
    for label, x, y in zip(labels, xs, ys):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("compression ratio (uncompressed / compressed bytes)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Digits MLP: accuracy vs compression ratio")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    offsets = ax.collections[0].get_offsets()
    drawn = [{"label": label, "x": float(x), "y": float(y)} for label, (x, y) in zip(labels, offsets)]
    Path(path).with_suffix(".json").write_text(json.dumps(
        {"xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(), "points": drawn}, indent=1))
    plt.close(fig)
    # END SOLUTION


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
