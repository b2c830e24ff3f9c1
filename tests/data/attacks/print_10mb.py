# ---------------------------------------------------------------- attack: print_10mb
# In get_device (test_get_device): print 10 MB (and 1 MB to stderr, with NUL and invalid UTF-8 bytes) before
# returning the honest result. results.json must stay small and the test pass.
_attack_honest_get_device_pm = get_device


def get_device():
    line = "A" * 1023 + "\n"
    for _ in range(10 * 1024):
        _asys.stdout.write(line)
    _asys.stdout.flush()
    _asys.stderr.buffer.write(b"\x00\xff\xfe" * (1024 * 1024 // 3))
    _asys.stderr.flush()
    _attack_record("print_10mb", echo=False, event="printed 10 MiB to stdout and 1 MiB to stderr")
    return _attack_honest_get_device_pm()
