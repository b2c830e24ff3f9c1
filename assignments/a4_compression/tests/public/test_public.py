"""A4 public tests: small cases; the hidden tests run the same functions on many more (see README.md).

Expected values are computed while grading, on fresh random inputs drawn from the run's seed (``--ag-seed N``
replays a run): entropies and byte planes by numpy, quantization by the handout's formulas, accuracies by
``helpers.accuracy`` on the digits MLP that tests/conftest.py trains (these tests also run on your machine,
where there is no reference solution).
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

from autograder import kit


# ---------------------------------------------------------------- 1. why compression is possible
@weight(2)
@number("1.1")
def test_entropy_bits(submission, rng, helpers):
    """entropy_bits gives bits per byte: 0 for one repeated byte, 1 for two equally likely ones, 8 for all 256"""
    student = submission.compression
    n = kit.randint(rng, 10, 40)
    cases = [
        (bytes([7]) * n, "one byte value repeated"),
        (bytes([0, 255]) * n, "two byte values, equally often"),
        (bytes(range(256)) * 2, "all 256 byte values, equally often"),
        (bytes(torch.randint(0, 6, (500,), generator=rng, dtype=torch.uint8).tolist()), "500 random bytes in 0..5"),
    ]
    for data, case in cases:
        expected = helpers.entropy_oracle(data)
        got = student.entropy_bits(data)
        assert isinstance(got, float), f"expected entropy_bits to return a Python float, got {type(got).__name__}"
        assert got == pytest.approx(expected, abs=1e-9), (
            f"entropy_bits of {case}: expected {expected:.6f} bits per byte, got {got!r}"
            + (" (that is the entropy in nats: use log2, not the natural log)" if abs(got - expected * math.log(2)) < 1e-6 and expected else ""))


@weight(2)
@number("1.2")
def test_order0_bound_and_byte_planes(submission, rng, helpers):
    """order0_bound and byte_plane_entropies on random float32 weights"""
    student = submission.compression
    data = bytes(torch.randint(0, 16, (kit.randint(rng, 200, 400),), generator=rng, dtype=torch.uint8).tolist())
    expected = len(data) * helpers.entropy_oracle(data) / 8
    got = student.order0_bound(data)
    assert got == pytest.approx(expected, rel=1e-9), (
        f"order0_bound of {len(data)} bytes with {helpers.entropy_oracle(data):.4f} bits/byte: expected {expected:.3f} "
        f"bytes (len * H / 8), got {got!r}")
    weights = kit.randn(rng, kit.randint(rng, 20, 40), kit.randint(rng, 20, 40)) * 0.05
    expected_planes = [helpers.entropy_oracle(plane) for plane in helpers.byte_planes(weights)]
    got = student.byte_plane_entropies(weights)
    assert isinstance(got, list) and len(got) == 4, (
        f"expected byte_plane_entropies of a float32 tensor to return a list of 4 floats (one per byte), got {got!r:.200}")
    for index, (value, want) in enumerate(zip(got, expected_planes)):
        assert value == pytest.approx(want, abs=1e-9), (
            f"byte_plane_entropies: plane {index} (byte {index} of each little-endian float32) should have entropy "
            f"{want:.4f} bits, got {value!r}. Expected all planes {[round(v, 4) for v in expected_planes]}")


# ---------------------------------------------------------------- 2. the lossless codec
@weight(3)
@number("1.3")
def test_codec_roundtrip_is_bit_exact(submission, student_process, submitted_source, rng):
    """encode/decode: a small state_dict comes back bit for bit, from the bytes alone"""
    student = submission.compression
    state = {"layer.weight": kit.randn(rng, 6, 5), "layer.bias": kit.randn(rng, 6),
             "steps": torch.tensor(kit.randint(rng, 0, 1000)), "mask": torch.rand(7, generator=rng) > 0.5}
    blob = student.encode(state)
    assert isinstance(blob, bytes), f"expected encode to return bytes, got {type(blob).__name__}"
    decoded = student_process.call("a4_side.fresh_call", submitted_source("compression.py"), "decode", blob)
    assert isinstance(decoded, dict) and list(decoded) == list(state), (
        f"expected decode to return a dict with the same names in the same order, {list(state)}; "
        f"got {list(decoded) if isinstance(decoded, dict) else type(decoded).__name__}")
    for name, value in state.items():
        kit.assert_tensor(decoded[name], value, f"decode(encode(state))[{name!r}]", exact=True)


@weight(2)
@number("1.4")
def test_decode_rejects_truncated_input(submission, rng):
    """decode raises ValueError for truncated bytes instead of returning wrong tensors"""
    student = submission.compression
    blob = student.encode({"w": kit.randn(rng, 8, 8)})
    for cut in sorted({1, len(blob) // 2, len(blob) - 1}):
        with pytest.raises(ValueError):
            result = student.decode(blob[:cut])
            pytest.fail(f"decode of the first {cut} of {len(blob)} bytes returned {type(result).__name__} "
                        "instead of raising ValueError")


# ---------------------------------------------------------------- 3. lossy
@weight(3)
@number("1.5")
def test_quantize_int8_symmetric_per_tensor(submission, rng, helpers):
    """quantize (int8, symmetric, per tensor): scale = max|w| / 127, codes round w / scale, dequantize inverts"""
    student = submission.compression
    w = kit.randn(rng, kit.randint(rng, 4, 12), kit.randint(rng, 4, 12))
    q = student.quantize(w, bits=8, symmetric=True, per_channel=False)
    assert isinstance(q, dict) and set(q) == {"codes", "scale"}, (
        f"expected quantize(symmetric=True) to return {{'codes', 'scale'}}, got {sorted(q) if isinstance(q, dict) else q!r:.200}")
    scale, _ = helpers.expected_scales(w, 8, True, False)
    kit.assert_tensor(q["scale"], scale, "scale (per tensor: a 0-d float32 tensor)", rtol=1e-6, atol=0)
    expected_codes = torch.clamp(torch.round(w / scale), -127, 127).to(torch.int8)
    kit.assert_tensor(q["codes"], expected_codes, "codes (int8, round(w / scale))", like="the weight")
    back = student.dequantize(q)
    kit.assert_tensor(back, expected_codes.float() * scale, "dequantize(q) = codes * scale", rtol=1e-6, atol=1e-7)
    assert float((back - w).abs().max()) <= float(scale) * 0.5 * (1 + 1e-5), "dequantize(q) is more than scale/2 from w"


@weight(2)
@number("1.6")
def test_pack_int4(submission, rng):
    """pack_int4 puts two 4-bit codes in each byte (low nibble first); unpack_int4 inverts it"""
    student = submission.compression
    codes = torch.tensor([1, -1, 7, -8, 0, 3], dtype=torch.int8)
    expected = torch.tensor([0xF1, 0x87, 0x30], dtype=torch.uint8)
    kit.assert_tensor(student.pack_int4(codes), expected, "pack_int4([1, -1, 7, -8, 0, 3])", exact=True)
    n = kit.randint(rng, 1, 40) * 2 + 1  # an odd count: the last byte's high nibble is padding
    codes = torch.randint(-8, 8, (n,), generator=rng, dtype=torch.int8)
    packed = student.pack_int4(codes)
    assert isinstance(packed, torch.Tensor) and packed.dtype == torch.uint8 and packed.shape == ((n + 1) // 2,), (
        f"expected pack_int4 of {n} codes to return uint8 of shape ({(n + 1) // 2},), got {packed!r:.200}")
    kit.assert_tensor(student.unpack_int4(packed, n), codes, f"unpack_int4(pack_int4(codes), {n})", exact=True)


@weight(1)
@number("1.7")
def test_sqnr_db(submission, rng, helpers):
    """sqnr_db is 10·log10(signal power / noise power)"""
    student = submission.compression
    x = kit.randn(rng, 50)
    noisy = x + kit.randn(rng, 50) * 0.01
    got = student.sqnr_db(x, noisy)
    assert got == pytest.approx(helpers.sqnr(x, noisy), abs=1e-6), f"expected sqnr_db {helpers.sqnr(x, noisy):.4f} dB, got {got!r}"
    assert student.sqnr_db(x, x.clone()) == math.inf, "expected sqnr_db(x, x) to be math.inf (no noise at all)"


@weight(3)
@number("1.8")
def test_pruning_and_sparse_encoding(submission, rng):
    """prune_global zeroes the smallest weights of all matrices together; sparse_encode stores only the rest"""
    student = submission.compression
    state = {"a.weight": kit.randn(rng, 6, 8), "a.bias": kit.randn(rng, 6), "b.weight": kit.randn(rng, 3, 6) * 3}
    pruned = student.prune_global(state, 0.5)
    total = 6 * 8 + 3 * 6
    zeros = sum(int((pruned[n] == 0).sum()) for n in ("a.weight", "b.weight"))
    assert zeros == round(0.5 * total), f"expected prune_global(state, 0.5) to zero {round(0.5 * total)} of the {total} weights, got {zeros}"
    kept = torch.cat([pruned[n][pruned[n] != 0].abs() for n in ("a.weight", "b.weight")])
    dropped = torch.cat([state[n][pruned[n] == 0].abs() for n in ("a.weight", "b.weight")])
    assert float(dropped.max()) <= float(kept.min()), (
        "prune_global must zero the smallest magnitudes over all weight matrices together (one global threshold): "
        f"it zeroed a weight of magnitude {float(dropped.max()):.4f} but kept one of {float(kept.min()):.4f}")
    kit.assert_tensor(pruned["a.bias"], state["a.bias"], "the bias after pruning (biases are not pruned)", exact=True)
    weight_ = pruned["a.weight"]
    encoded = student.sparse_encode(weight_)
    nnz = int((weight_ != 0).sum())
    assert encoded["mask"].dtype == torch.uint8 and encoded["mask"].numel() == math.ceil(weight_.numel() / 8), (
        f"expected the mask of a {weight_.numel()}-element tensor to be {math.ceil(weight_.numel() / 8)} uint8 bytes "
        f"(one bit per element), got {encoded['mask'].numel()} of {encoded['mask'].dtype}")
    assert encoded["values"].numel() == nnz, f"expected {nnz} stored values (the nonzeros), got {encoded['values'].numel()}"
    kit.assert_tensor(student.sparse_decode(encoded, list(weight_.shape)), weight_, "sparse_decode(sparse_encode(w))", exact=True)
    expected_size = math.ceil(weight_.numel() / 8) + 4 * nnz
    got = student.sparse_nbytes(encoded)
    assert got == expected_size, f"expected sparse_nbytes = {expected_size} (mask bytes + 4 bytes per value), got {got!r}"


# ---------------------------------------------------------------- 4. the trained model
@weight(3)
@number("1.9")
def test_int8_model_keeps_accuracy(submission, student_process, submitted_source, helpers):
    """compress_model with int8 per-channel: about 4x smaller, accuracy within 1 point, from the bytes alone"""
    student = submission.compression
    state, x_test, y_test = helpers.trained_digits()
    blob = student.compress_model(state, {"bits": 8, "symmetric": True, "per_channel": True})
    assert isinstance(blob, bytes), f"expected compress_model to return bytes, got {type(blob).__name__}"
    ratio = helpers.raw_nbytes(state) / len(blob)
    assert ratio >= 3.5, (
        f"int8 per channel should make the float32 model about 4x smaller (1 byte per weight plus scales); "
        f"got {helpers.raw_nbytes(state):,} / {len(blob):,} bytes = {ratio:.2f}x")
    restored = student_process.call("a4_side.fresh_call", submitted_source("compression.py"), "decompress_model", blob)
    assert isinstance(restored, dict) and list(restored) == list(state), (
        f"expected decompress_model to return the state_dict's names in order {list(state)}, got "
        f"{list(restored) if isinstance(restored, dict) else type(restored).__name__}")
    base, got = helpers.accuracy(state, x_test, y_test), helpers.accuracy(restored, x_test, y_test)
    assert got >= base - 0.01, f"accuracy fell from {base:.2%} to {got:.2%} after int8; it should stay within 1 point"


@weight(2)
@number("1.10")
def test_plot_tradeoff(submission, student_process, check_png):
    """plot_tradeoff draws accuracy against ratio: a PNG and the JSON of what it shows (see yours: python compression.py)"""
    student = submission.compression
    points = [{"method": {"name": "lossless", "bits": 32}, "ratio": 1.17, "accuracy": 0.973},
              {"method": {"name": "int8", "bits": 8}, "ratio": 4.05, "accuracy": 0.971},
              {"method": {"name": "prune 95%", "sparsity": 0.95}, "ratio": 18.8, "accuracy": 0.36}]
    folder = student_process.call("a4_side.scratch_dir")
    student.plot_tradeoff(points, f"{folder}/tradeoff.png")
    png = student_process.call("a4_side.read_file", f"{folder}/tradeoff.png")
    check_png(png, "the file plot_tradeoff wrote")
    drawn = json.loads(student_process.call("a4_side.read_file", f"{folder}/tradeoff.json"))
    assert "ratio" in str(drawn.get("xlabel", "")).lower() and "accuracy" in str(drawn.get("ylabel", "")).lower(), (
        f"expected the x axis label to mention the ratio and the y axis label the accuracy; got "
        f"xlabel={drawn.get('xlabel')!r}, ylabel={drawn.get('ylabel')!r}")
    got = sorted((round(float(p["x"]), 6), round(float(p["y"]), 6)) for p in drawn.get("points", []))
    want = sorted((p["ratio"], p["accuracy"]) for p in points)
    assert got == want, f"tradeoff.json should list the markers drawn at (ratio, accuracy) {want}; it lists {got}"
