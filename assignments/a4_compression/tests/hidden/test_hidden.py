"""A4 hidden tests: the public checks on cases drawn from the run's seed, plus the graded trade-off.

Cases: random byte distributions, byte planes of every dtype, state_dicts with odd shapes, empty and 0-d tensors,
float16/bfloat16/float64/int64/bool and non-contiguous tensors, NaN payloads, infinities and -0.0 (bit-exact),
damaged and truncated input, all eight quantization schemes on 2-d and 4-d weights, a planted outlier, exact honest
sizes, and the trained digits MLP. Expected values come from numpy, the handout's formulas, helpers.accuracy and the
reference solution at grading time.
"""

from __future__ import annotations

import math

import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

from autograder import kit

WEIGHTS = ("linear_relu_stack.0.weight", "linear_relu_stack.2.weight", "linear_relu_stack.4.weight")
SCHEMES = [(bits, symmetric, per_channel) for bits in (8, 4) for symmetric in (True, False) for per_channel in (False, True)]


def _fresh(student_process, submitted_source, function, *args):
    """``function`` of a fresh copy of the submitted module (it sees only the bytes it is given)."""
    return student_process.call("a4_side.fresh_call", submitted_source("compression.py"), function, *args)


# ---------------------------------------------------------------- 1. entropy
@weight(2)
@number("2.1")
def test_entropy_bits_random_distributions(submission, rng, helpers):
    """entropy_bits on random byte distributions (bits per byte), empty and one-byte data"""
    student = submission.compression
    assert student.entropy_bits(b"") == 0.0, "entropy_bits(b'') should be 0.0 (no data, no information)"
    assert student.entropy_bits(bytes([kit.randint(rng, 0, 255)])) == pytest.approx(0.0, abs=1e-12), "one byte has entropy 0"
    for _ in range(4):
        alphabet = kit.randint(rng, 2, 256)
        weights = torch.rand(alphabet, generator=rng) ** 3 + 1e-3
        data = bytes(torch.multinomial(weights, kit.randint(rng, 100, 3000), replacement=True, generator=rng)
                     .to(torch.uint8).tolist())
        expected = helpers.entropy_oracle(data)
        got = student.entropy_bits(data)
        assert got == pytest.approx(expected, abs=1e-9), (
            f"entropy_bits of {len(data)} bytes over {alphabet} values: expected {expected:.6f} bits per byte, got {got!r}")


@weight(2)
@number("2.2")
def test_byte_plane_entropies_dtypes(submission, rng, helpers):
    """byte_plane_entropies for float16/bfloat16/float64/int32/bool, non-contiguous and trained weights"""
    student = submission.compression
    rows, cols = kit.randint(rng, 5, 30), kit.randint(rng, 5, 30)
    cases = [(kit.randn(rng, rows, cols, dtype=dtype) * 0.1, f"{dtype}") for dtype in (torch.float16, torch.bfloat16, torch.float64)]
    cases.append((torch.randint(-1000, 1000, (rows, cols), generator=rng, dtype=torch.int32), "int32"))
    cases.append((torch.rand(rows, generator=rng) > 0.3, "bool"))
    cases.append((kit.randn(rng, cols, rows).T, "a non-contiguous (transposed) float32 tensor"))
    cases.append((helpers.trained_weight(), "the trained 512x512 weight matrix"))
    for tensor, case in cases:
        expected = [helpers.entropy_oracle(plane) for plane in helpers.byte_planes(tensor)]
        got = student.byte_plane_entropies(tensor)
        assert isinstance(got, list) and len(got) == len(expected), (
            f"byte_plane_entropies of {case}: expected {len(expected)} planes (its element size), got {got!r:.200}")
        for index, (value, want) in enumerate(zip(got, expected)):
            assert value == pytest.approx(want, abs=1e-9), (
                f"byte_plane_entropies of {case}, plane {index}: expected {want:.5f} bits, got {value!r}")


# ---------------------------------------------------------------- 2. the lossless codec
def _odd_state(rng: torch.Generator) -> dict[str, torch.Tensor]:
    odd = [kit.randint(rng, 1, 7) for _ in range(3)]
    return {
        "odd.weight": kit.randn(rng, *odd),
        "empty": torch.empty(0, kit.randint(rng, 1, 5)),
        "scalar": kit.randn(rng, 1).reshape(()),
        "half": kit.randn(rng, odd[0], odd[1], dtype=torch.float16),
        "bf16": kit.randn(rng, odd[2], dtype=torch.bfloat16),
        "double": kit.randn(rng, 3, dtype=torch.float64),
        "count": torch.randint(-2**62, 2**62, (odd[1],), generator=rng, dtype=torch.int64),
        "flags": torch.rand(odd[0], odd[2], generator=rng) > 0.5,
        "bytes": torch.randint(0, 256, (odd[2],), generator=rng, dtype=torch.uint8),
        "transposed": kit.randn(rng, odd[0] + 1, odd[1] + 2).T,
        "strided": kit.randn(rng, 4 * odd[0], 3)[::4, 1:],
        "empty int32": torch.empty(0, dtype=torch.int32),
        "int 0-d": torch.tensor(kit.randint(rng, -5, 5), dtype=torch.int16),
    }


@weight(3)
@number("2.3")
def test_codec_odd_tensors(submission, student_process, submitted_source, rng):
    """encode/decode: odd shapes, empty and 0-d tensors, float16/bfloat16/float64/int64/bool, non-contiguous"""
    state = _odd_state(rng)
    blob = submission.compression.encode(state)
    decoded = _fresh(student_process, submitted_source, "decode", blob)
    assert isinstance(decoded, dict) and list(decoded) == list(state), (
        f"expected decode to return the names {list(state)} in order, got "
        f"{list(decoded) if isinstance(decoded, dict) else type(decoded).__name__}")
    for name, value in state.items():
        kit.assert_tensor(decoded[name], value.contiguous(), f"decoded {name!r} ({value.dtype}, shape {tuple(value.shape)})", exact=True)


@weight(2)
@number("2.4")
def test_codec_special_floats_bit_exact(submission, student_process, submitted_source, rng):
    """encode/decode keeps NaN payloads, infinities, -0.0 and subnormals bit for bit"""
    n = kit.randint(rng, 8, 40)
    payload = torch.randint(1, 2**23, (n,), generator=rng, dtype=torch.int64)  # nonzero mantissa: quiet and signalling
    sign = torch.randint(0, 2, (n,), generator=rng, dtype=torch.int64) << 31
    pattern = 0x7F800000 + payload + sign
    nans = torch.where(pattern >= 2**31, pattern - 2**32, pattern).to(torch.int32).view(torch.float32)
    special = torch.tensor([0.0, -0.0, math.inf, -math.inf, 1e-45, -1e-45, 1e-40, float("nan")], dtype=torch.float32)
    half = torch.tensor([-0.0, 0.0, math.inf], dtype=torch.float16)
    half_nan = torch.tensor([0x7E01, 0xFE03 - 2**16, 0x7C05], dtype=torch.int16).view(torch.float16)
    state = {"nans": nans, "special": special, "weights": torch.cat([kit.randn(rng, n), special]),
             "half": torch.cat([half, half_nan]), "bf16": torch.tensor([-0.0, 0.0], dtype=torch.bfloat16),
             "neg_zero_double": torch.tensor([-0.0, 1.0], dtype=torch.float64)}
    blob = submission.compression.encode(state)
    decoded = _fresh(student_process, submitted_source, "decode", blob)
    for name, value in state.items():
        kit.assert_tensor(decoded[name], value, f"decoded {name!r}", exact=True)


@weight(3)
@number("2.5")
def test_decode_rejects_damaged_input(submission, rng):
    """decode raises ValueError for damaged, truncated, padded or foreign bytes"""
    student = submission.compression
    blob = student.encode({"w": kit.randn(rng, 16, 16), "b": kit.randn(rng, 16), "n": torch.tensor(3)})
    cases = [(b"", "empty bytes"), (bytes(torch.randint(0, 256, (len(blob),), generator=rng, dtype=torch.uint8).tolist()),
                                    "random bytes of the same length"), (blob + b"\x00", "one byte appended")]
    for cut in sorted({kit.randint(rng, 1, len(blob) - 1) for _ in range(4)} | {len(blob) - 1, 4}):
        cases.append((blob[:cut], f"truncated to {cut} of {len(blob)} bytes"))
    positions = sorted({kit.randint(rng, 0, len(blob) - 1) for _ in range(10)} | {0, len(blob) // 2, len(blob) - 1})
    for position in positions:
        damaged = bytearray(blob)
        damaged[position] ^= 1 << kit.randint(rng, 0, 7)
        cases.append((bytes(damaged), f"one bit flipped in byte {position} of {len(blob)}"))
    for data, case in cases:
        try:
            result = student.decode(data)
        except ValueError:
            continue
        raise AssertionError(f"decode of {case} returned {type(result).__name__} instead of raising ValueError")


@pytest.mark.partial_credit(3)
@number("2.6")
def test_lossless_ratio_vs_reference(submission, reference, student_process, submitted_source, helpers, set_score):
    """encode's compression ratio on the trained digits MLP, relative to the reference's (shuffle + coder)"""
    state, _, _ = helpers.trained_digits()
    blob = submission.compression.encode(state)
    decoded = _fresh(student_process, submitted_source, "decode", blob)
    for name, value in state.items():
        kit.assert_tensor(decoded[name], value, f"decoded {name!r}", exact=True)
    raw = helpers.raw_nbytes(state)
    ratio, reference_ratio = raw / len(blob), raw / len(reference.compression.encode(state))
    relative = ratio / reference_ratio
    credit = min(1.0, max(0.0, (relative - 0.93) / (0.98 - 0.93)))
    set_score(3 * credit)
    print(f"lossless ratio {ratio:.3f}x vs the reference's {reference_ratio:.3f}x ({relative:.3f} of it): "
          f"full credit at >= 0.98 of it, none at <= 0.93; {credit:.0%} of the points")
    assert credit > 0, (f"encode reaches {ratio:.3f}x on the trained weights; the reference (byte shuffle, then a "
                        f"standard coder) reaches {reference_ratio:.3f}x. Did you byte-shuffle before compressing?")


# ---------------------------------------------------------------- 3. lossy
@weight(3)
@number("2.7")
def test_quantize_all_schemes(submission, rng, helpers):
    """quantize/dequantize: int8 and int4, symmetric and affine, per tensor and per channel, 2-d and 4-d"""
    student = submission.compression
    shapes = [(kit.randint(rng, 3, 20), kit.randint(rng, 3, 20)), (kit.randint(rng, 2, 6), 3, 2, 2)]
    for shape in shapes:
        w = kit.randn(rng, *shape) * 0.1 + (0.05 if len(shape) == 2 else 0.0)
        w[0] = 0.0  # an all-zero row: scale 1 there
        for bits, symmetric, per_channel in SCHEMES:
            case = kit.describe(shape=shape, bits=bits, symmetric=symmetric, per_channel=per_channel)
            q = student.quantize(w, bits=bits, symmetric=symmetric, per_channel=per_channel)
            keys = {"codes", "scale"} | (set() if symmetric else {"zero_point"})
            assert isinstance(q, dict) and set(q) == keys, f"quantize ({case}): expected keys {sorted(keys)}, got {q!r:.200}"
            scale, zero_point = helpers.expected_scales(w, bits, symmetric, per_channel)
            kit.assert_tensor(q["scale"], scale, f"scale ({case})", rtol=1e-6, atol=0)
            if zero_point is not None:
                kit.assert_tensor(q["zero_point"], zero_point, f"zero_point ({case})", exact=True)
            codes = q["codes"]
            assert isinstance(codes, torch.Tensor) and codes.dtype == torch.int8 and tuple(codes.shape) == shape, (
                f"codes ({case}): expected int8 of shape {shape}, got {codes!r:.200}")
            low, high = (-(2 ** (bits - 1)) + symmetric, 2 ** (bits - 1) - 1)
            assert int(codes.min()) >= low and int(codes.max()) <= high, f"codes ({case}) must lie in [{low}, {high}]"
            back = student.dequantize(q)
            view = (-1,) + (1,) * (len(shape) - 1) if per_channel else ()
            zp = 0 if zero_point is None else zero_point.float().reshape(view)
            kit.assert_tensor(back, (codes.float() - zp) * scale.reshape(view), f"dequantize ({case})", rtol=1e-6, atol=1e-8)
            step = scale.reshape(view).expand(shape)
            worst = float(((back - w).abs() / step).max())
            assert worst <= (0.5 if symmetric else 1.0) + 1e-4, (
                f"quantize ({case}): an entry is {worst:.2f} quantization steps from the weight; rounding should "
                "keep every entry within half a step")


@weight(2)
@number("2.8")
def test_outlier_per_channel_beats_per_tensor(submission, rng, helpers):
    """quantize int8 per channel: one outlier weight ruins per-tensor SQNR (~16 dB) but not per-channel (~41 dB)"""
    student = submission.compression
    w = helpers.trained_weight().clone()
    row, col = kit.randint(rng, 0, w.shape[0] - 1), kit.randint(rng, 0, w.shape[1] - 1)
    w[row, col] = 20 * float(w.abs().max())
    results = {}
    for per_channel in (False, True):
        q = student.quantize(w, bits=8, symmetric=True, per_channel=per_channel)
        scale, _ = helpers.expected_scales(w, 8, True, per_channel)
        kit.assert_tensor(q["scale"], scale, f"scale ({'per channel: one per row' if per_channel else 'per tensor'}) "
                          "of a weight matrix with one outlier", rtol=1e-6, atol=0)
        results[per_channel] = helpers.sqnr(w, student.dequantize(q))
    expected = {pc: helpers.sqnr(w, torch.clamp(torch.round(w / s.reshape(-1, 1) if pc else w / s), -127, 127)
                                  * (s.reshape(-1, 1) if pc else s))
                for pc, s in ((pc, helpers.expected_scales(w, 8, True, pc)[0]) for pc in (False, True))}
    for per_channel, got in results.items():
        assert got == pytest.approx(expected[per_channel], abs=0.05), (
            f"SQNR of int8 {'per-channel' if per_channel else 'per-tensor'} quantization with an outlier: expected "
            f"{expected[per_channel]:.1f} dB, got {got:.1f} dB")
    assert results[True] >= results[False] + 15, (
        f"per-channel scaling should shrug off one outlier (only its row's scale grows): got {results[True]:.1f} dB "
        f"per channel vs {results[False]:.1f} dB per tensor")


@weight(2)
@number("2.9")
def test_quantized_nbytes_counts_everything(submission, rng, helpers):
    """quantized_nbytes counts the packed codes, every scale and every zero point"""
    student = submission.compression
    w = kit.randn(rng, kit.randint(rng, 3, 40), kit.randint(rng, 3, 40))
    for bits, symmetric, per_channel in SCHEMES:
        q = student.quantize(w, bits=bits, symmetric=symmetric, per_channel=per_channel)
        scales = w.shape[0] if per_channel else 1
        expected = helpers.quantized_size(w.numel(), bits, scales, 0 if symmetric else scales)
        got = student.quantized_nbytes(q, bits)
        assert got == expected, (
            f"quantized_nbytes for a {tuple(w.shape)} weight, {kit.describe(bits=bits, symmetric=symmetric, per_channel=per_channel)}: "
            f"expected {expected} bytes (ceil({w.numel()} * {bits} / 8) for the codes + 4 * {scales} for the scales"
            f"{'' if symmetric else f' + {scales} for the zero points'}), got {got!r}")


@weight(2)
@number("2.10")
def test_pruning_and_sparse_encoding_cases(submission, rng, helpers):
    """prune_global on the trained MLP; sparse_encode/decode/nbytes on odd sizes, all-zero and dense tensors"""
    student = submission.compression
    state, _, _ = helpers.trained_digits()
    before = {name: value.clone() for name, value in state.items()}
    sparsity = float(torch.empty(()).uniform_(0.3, 0.95, generator=rng))
    pruned = student.prune_global(state, sparsity)
    for name, value in before.items():
        kit.assert_tensor(state[name], value, f"the input's {name!r} after prune_global (it must not change)", exact=True)
    total = sum(state[n].numel() for n in WEIGHTS)
    zeros = sum(int((pruned[n] == 0).sum()) for n in WEIGHTS)
    assert zeros == round(sparsity * total), f"prune_global(sparsity={sparsity:.4f}): expected {round(sparsity * total)} zeros, got {zeros}"
    kept = torch.cat([pruned[n][pruned[n] != 0].abs() for n in WEIGHTS])
    dropped = torch.cat([state[n][pruned[n] == 0].abs() for n in WEIGHTS])
    assert float(dropped.max()) <= float(kept.min()), "prune_global must use one threshold for all weight matrices together"
    for n in WEIGHTS:
        kit.assert_tensor(pruned[n][pruned[n] != 0], state[n][pruned[n] != 0], f"kept entries of {n}", exact=True)
    cases = [kit.randn(rng, kit.randint(rng, 1, 9), kit.randint(rng, 1, 9)), torch.zeros(kit.randint(rng, 1, 20)),
             kit.randn(rng, 3, 5, 7), torch.tensor([0.0, -0.0, 1.5, 0.0, -2.0]), pruned[WEIGHTS[2]]]
    for tensor in cases:
        encoded = student.sparse_encode(tensor)
        nnz = int((tensor != 0).sum())
        expected = math.ceil(tensor.numel() / 8) + nnz * tensor.element_size()
        assert student.sparse_nbytes(encoded) == expected, (
            f"sparse_nbytes of a {tuple(tensor.shape)} tensor with {nnz} nonzeros: expected {expected} "
            f"(mask {math.ceil(tensor.numel() / 8)} + values {nnz * tensor.element_size()}), got {student.sparse_nbytes(encoded)!r}")
        kit.assert_tensor(student.sparse_decode(encoded, list(tensor.shape)), torch.where(tensor == 0, 0.0, tensor),
                          f"sparse_decode(sparse_encode(t)) for shape {tuple(tensor.shape)}", exact=True)


# ---------------------------------------------------------------- 4. the whole model
@weight(3)
@number("2.11")
def test_compress_model_encodes_sparsity(submission, student_process, submitted_source, rng, helpers):
    """compress_model stores a pruned model sparsely (mask + kept values), and combinations decompress right"""
    student = submission.compression
    state, x_test, y_test = helpers.trained_digits()
    sparsity = round(float(torch.empty(()).uniform_(0.65, 0.85, generator=rng)), 3)
    pruned = student.prune_global(state, sparsity)
    blob = student.compress_model(state, {"sparsity": sparsity})
    kept = sum(int((pruned[n] != 0).sum()) for n in WEIGHTS)
    masks = sum(math.ceil(state[n].numel() / 8) for n in WEIGHTS)
    others = helpers.raw_nbytes({n: v for n, v in state.items() if n not in WEIGHTS})
    bitmask = masks + 4 * kept + others + 4096
    assert len(blob) <= bitmask, (
        f"compress_model(sparsity={sparsity}) took {len(blob):,} bytes, more than a plain bitmask encoding needs: "
        f"{masks:,} bytes of masks + {kept:,} kept float32 weights + {others:,} bytes of biases + 4 KiB for the header "
        f"= {bitmask:,}. Store only the kept entries (a bitmask or CSR), not the zeros")
    restored = _fresh(student_process, submitted_source, "decompress_model", blob)
    for name, value in pruned.items():
        kit.assert_tensor(restored[name], value, f"decompress_model(sparsity={sparsity})[{name!r}] (prune_global's result)", exact=True)
    method = {"sparsity": 0.5, "bits": 4, "symmetric": False, "per_channel": True}
    blob = student.compress_model(state, method)
    restored = _fresh(student_process, submitted_source, "decompress_model", blob)
    pruned = student.prune_global(state, 0.5)
    for name in WEIGHTS:
        zero = pruned[name] == 0
        assert bool((restored[name][zero] == 0).all()), f"{kit.describe(**method)}: pruned entries of {name} must decompress to 0"
        scale, _ = helpers.expected_scales(state[name], 4, False, True)
        error = ((restored[name] - pruned[name]).abs() / scale.reshape(-1, 1))[~zero]
        assert float(error.max()) <= 1.0 + 1e-4, f"{kit.describe(**method)}: {name} is off by {float(error.max()):.2f} int4 steps"
    ratio = helpers.raw_nbytes(state) / len(blob)
    assert ratio >= 8, f"{kit.describe(**method)} should compress about 10x (half the weights, 4 bits each, plus a mask); got {ratio:.2f}x"


@pytest.mark.partial_credit(5)
@pytest.mark.leaderboard("ratio at <= 1 pt accuracy loss")
@number("2.12")
def test_best_method_tradeoff(submission, student_process, submitted_source, helpers, set_score, set_leaderboard_value):
    """best_method: the compression ratio reached with at most 1 point of accuracy lost (credit on a curve)"""
    student = submission.compression
    state, x_test, y_test = helpers.trained_digits()
    method = student.best_method()
    assert isinstance(method, dict), f"expected best_method() to return a method dict, got {method!r:.200}"
    blob = student.compress_model(state, method)
    restored = _fresh(student_process, submitted_source, "decompress_model", blob)
    assert isinstance(restored, dict) and list(restored) == list(state), "decompress_model must return the state_dict's names in order"
    base, got = helpers.accuracy(state, x_test, y_test), helpers.accuracy(restored, x_test, y_test)
    ratio = helpers.raw_nbytes(state) / len(blob)
    low, high = 4.0, 12.0
    credit = 0.0 if got < base - 0.01 else min(1.0, max(0.0, (ratio - low) / (high - low)))
    set_score(5 * credit)
    set_leaderboard_value(round(ratio, 3) if got >= base - 0.01 else 0.0)
    print(f"best_method {method}: {ratio:.2f}x at {got:.2%} accuracy (uncompressed {base:.2%}); full credit at "
          f">= {high:g}x, none at <= {low:g}x, and none if more than 1 point of accuracy is lost: {credit:.0%} of the points")
    assert got >= base - 0.01, f"best_method loses {100 * (base - got):.2f} points of accuracy ({base:.2%} -> {got:.2%}); at most 1 is allowed"
    assert credit > 0, f"best_method reaches only {ratio:.2f}x; credit starts above {low:g}x (int8 alone) and is full at {high:g}x"


@weight(2)
@number("2.13")
def test_tradeoff_points_are_measured(submission, student_process, submitted_source, rng, helpers):
    """tradeoff_points: at least 5 methods (lossless, int8, int4, pruning, a combination), each point re-measured"""
    student = submission.compression
    state, x_test, y_test = helpers.trained_digits()
    points = student.tradeoff_points(state, x_test, y_test)
    assert isinstance(points, list) and len(points) >= 5, f"expected a list of at least 5 points, got {points!r:.300}"
    methods = [p["method"] for p in points]
    kinds = {
        "lossless": any(m.get("bits", 32) == 32 and not m.get("sparsity", 0) for m in methods),
        "int8": any(m.get("bits") == 8 for m in methods),
        "int4": any(m.get("bits") == 4 for m in methods),
        "pruning": any(m.get("sparsity", 0) > 0 for m in methods),
        "pruning + quantization": any(m.get("sparsity", 0) > 0 and m.get("bits", 32) < 32 for m in methods),
    }
    missing = [kind for kind, present in kinds.items() if not present]
    assert not missing, f"tradeoff_points is missing methods of these kinds: {', '.join(missing)}"
    raw = helpers.raw_nbytes(state)
    order = torch.randperm(len(points), generator=rng)[:3].tolist()
    for index in order:
        point = points[index]
        blob = student.compress_model(state, point["method"])
        restored = _fresh(student_process, submitted_source, "decompress_model", blob)
        ratio, acc = raw / len(blob), helpers.accuracy(restored, x_test, y_test)
        assert point["ratio"] == pytest.approx(ratio, rel=1e-6) and point["accuracy"] == pytest.approx(acc, abs=1e-6), (
            f"point {point['method']} says ratio {point['ratio']:.4f}x, accuracy {point['accuracy']:.4f}; measured again: "
            f"{ratio:.4f}x, {acc:.4f}")
