# ---------------------------------------------------------------- attack: read_leftovers
# At import, in the grading *after* `leave_behind`'s, as the same account: look for anything that run left.
# Every attempt must fail (FileNotFoundError, or no such SysV key): two gradings must share nothing.
def _attack_read_leftovers():
    import ctypes
    import getpass
    import glob
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    key, marker, attempts = _ATTACK_CONFIG["ipc_key"], _ATTACK_CONFIG["leftover_marker"], []

    def ipc(call, *args):
        ident = call(*args)
        if ident < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return f"found id {ident}"

    attempts.append(_attack_try("SysV shm", lambda: ipc(libc.shmget, key, 0, 0)))
    attempts.append(_attack_try("SysV msg", lambda: ipc(libc.msgget, key + 1, 0)))
    attempts.append(_attack_try("SysV sem", lambda: ipc(libc.semget, key + 2, 0, 0)))
    for pattern in (f"/tmp/torchinductor_*/poisoned/{marker}.py", f"/tmp/{marker}*", f"/var/tmp/{marker}*",
                    f"/dev/shm/{marker}*"):
        def look(pattern=pattern):
            found = glob.glob(pattern)
            if not found:
                raise FileNotFoundError(pattern)
            return found
        attempts.append(_attack_try(f"glob {pattern}", look))
    attempts.append(_attack_try("own inductor cache", lambda: os.listdir(f"/tmp/torchinductor_{getpass.getuser()}")))
    _attack_record("read_leftovers", attempts=attempts, cache_dir=os.environ.get("TORCHINDUCTOR_CACHE_DIR"),
                   tmpdir=os.environ.get("TMPDIR"))


_attack_read_leftovers()
