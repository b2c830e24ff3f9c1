# ---------------------------------------------------------------- attack: memory_bomb
# In saved_activation_bytes, only for dtype bfloat16 (only test_saved_activation_bytes_deep_and_dtypes asks):
# ask torch for a 4 TiB tensor, then fill memory 256 MiB at a time (every page touched) until the allocation
# fails; the MemoryError is not caught. Bounded at 24 chunks (6 GiB), above the spec's 4 GiB, so a missing
# limit shows up as a record instead of exhausting the machine. BREAKS: test_saved_activation_bytes_deep_and_dtypes.
_attack_honest_saved_bytes_mb = saved_activation_bytes


def saved_activation_bytes(layer_sizes, batch_size, mode, dtype=torch.float32):
    if dtype == torch.bfloat16:
        attempt = _attack_try("torch.empty(2**40) float32", lambda: torch.empty(2 ** 40).numel())
        _attack_record("memory_bomb", event="torch", attempt=attempt)
        hog, chunk = [], 256 * 1024 * 1024
        try:
            for _ in range(24):
                hog.append(b"\x01" * chunk)
        finally:
            _attack_record("memory_bomb", event="held", bytes=len(hog) * chunk, limit_hit=len(hog) < 24)
            del hog
    return _attack_honest_saved_bytes_mb(layer_sizes, batch_size, mode, dtype=dtype)
