"""Lock the worker process down before any student code is loaded.

Runs first thing in the worker, while it is still the runner's user (root on Gradescope). In order:
close every inherited file descriptor but the channel; leave the network and SysV IPC (new, empty network and
IPC namespaces: as root directly, otherwise through a new user namespace where the kernel allows it); apply
rlimits (address space, CPU seconds, processes, file size, open files); drop to the unprivileged grading user
for good; forbid regaining privileges; die with the runner; scrub the environment (temp files and torch's
caches go to the worker's own folder); then install a seccomp filter (:func:`install_syscall_filter`).

The filter is what holds inside Gradescope's Docker container, where the kernel refuses new namespaces (no
CAP_SYS_ADMIN): ``socket()`` is refused for every address family, pathname unix sockets included (a network
namespace does not cover them: they live in the file system), and so are new namespaces (``unshare``,
``setns``, ``clone`` with ``CLONE_NEW*``: a user namespace would hand the student's process capabilities over
fresh namespaces) and io_uring (which can open sockets without the ``socket`` system call). ``socketpair``
stays allowed: ``multiprocessing.Pipe`` needs it and it reaches nothing. Returns what it achieved, which the
runner records in results.json (``extra_data.isolation``), so a grader that could not block the network says so.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
# Every namespace flag clone(2) and unshare(2) know: time, mount, cgroup, UTS, IPC, user, PID, network.
CLONE_NEW_FLAGS = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
AF_UNIX = 1
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

RLIMITS = {
    "address_space": resource.RLIMIT_AS,
    "cpu_seconds": resource.RLIMIT_CPU,
    "processes": resource.RLIMIT_NPROC,
    "file_size": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
}
SAFE_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
# Where temp files and caches go, relative to the worker's own folder (removed with it after the run). Without
# these, torch.compile caches native code in /tmp/torchinductor_<account>, which the next grading under the
# same account would load (a poisoned cache runs the previous student's code in the next student's process).
PRIVATE_DIRS = {"TMPDIR": ".tmp", "TORCHINDUCTOR_CACHE_DIR": ".cache/torchinductor", "TRITON_CACHE_DIR": ".cache/triton",
                "XDG_CACHE_HOME": ".cache", "TORCH_HOME": ".cache/torch", "MPLCONFIGDIR": ".cache/matplotlib",
                "HOME": ".home"}


def private_environment(workdir: str | os.PathLike[str]) -> dict[str, str]:
    """SAFE_ENVIRONMENT plus temp and cache folders inside ``workdir`` (created here, mode 700)."""
    environment = dict(SAFE_ENVIRONMENT)
    for name, relative in PRIVATE_DIRS.items():
        path = os.path.join(os.fspath(workdir), relative)
        os.makedirs(path, mode=0o700, exist_ok=True)
        environment[name] = path
    return environment


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def close_other_fds(keep: tuple[int, ...]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def leave_network(as_root: bool) -> str:
    """Move into fresh network and IPC namespaces (only a down loopback; no SysV objects of anyone else's, and
    the ones made here die with the worker). Returns what happened, in words."""
    libc = _libc()
    flags = CLONE_NEWNET | CLONE_NEWIPC if as_root else CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC
    if libc.unshare(flags) == 0:
        return "new network namespace"
    error = os.strerror(ctypes.get_errno())
    return f"the kernel refused a new network namespace ({error})"


def syscall_filter() -> Any:
    """The seccomp filter (pyseccomp, libseccomp's ctypes binding): everything allowed but the calls below.

    Errors, not kills: a library that probes for the network (``socket.if_nameindex``, a DNS lookup) gets
    EACCES and carries on, and the student's traceback says "Permission denied" at the call that tried.
    """
    import errno

    import pyseccomp as seccomp

    refused = seccomp.SyscallFilter(seccomp.ALLOW)
    refused.set_attr(seccomp.Attr.CTL_TSYNC, 1)  # every thread of the process, should one exist already
    refused.add_rule(seccomp.ERRNO(errno.EACCES), "socket")  # every family: network ones and AF_UNIX
    for name in ("unshare", "setns"):
        refused.add_rule(seccomp.ERRNO(errno.EPERM), name)
    for flag in CLONE_NEW_FLAGS:
        refused.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes glibc fall back to clone (as
    # Docker's own profile does). io_uring can create and connect sockets without calling socket().
    for name in ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"):
        refused.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
    return refused


def install_syscall_filter() -> str:
    """Load :func:`syscall_filter` into this process (inherited by every child, never removable)."""
    try:
        syscall_filter().load()
    except (ImportError, RuntimeError, OSError) as exc:  # no pyseccomp, no libseccomp, or the kernel refused
        return f"not installed ({type(exc).__name__}: {exc})"
    return "installed"


def network_report(namespace: str, syscall_filter_state: str) -> str:
    """One line for results.json: whether the network is blocked and by what."""
    if syscall_filter_state == "installed":
        return f"blocked (seccomp refuses socket() for every address family; {namespace})"
    if namespace == "new network namespace":
        return f"blocked (new network namespace; seccomp filter {syscall_filter_state})"
    return f"open: {namespace}, and the seccomp filter is {syscall_filter_state}"


def apply_rlimits(limits: dict[str, int], as_root: bool) -> dict[str, int]:
    applied: dict[str, int] = {}
    for name, value in limits.items():
        if name == "processes" and not as_root:
            continue  # RLIMIT_NPROC counts all of this user's processes; without a user of our own it would bite the caller
        resource.setrlimit(RLIMITS[name], (value, value))
        applied[name] = value
    return applied


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("jail: could not switch to the grading user")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SystemExit("jail: privileges could be regained after dropping them; refusing to run student code")


def lock_down(settings: dict[str, Any], keep_fds: tuple[int, ...], workdir: str | None = None) -> dict[str, Any]:
    """Apply ``settings`` (keys: uid, gid, user, rlimits, block_network) and report what was achieved.

    ``workdir`` (the worker's own folder, owned by the grading account) receives temp files and caches.
    """
    as_root = os.geteuid() == 0
    close_other_fds(keep_fds)
    report: dict[str, Any] = {"network": "open (not requested)"}
    block = settings.get("block_network", True)
    namespace = leave_network(as_root) if block else ""
    report["rlimits"] = apply_rlimits(settings.get("rlimits", {}), as_root and settings.get("uid") is not None)
    try:  # the OOM killer picks student code first (inherited by its children; only root may lower it again)
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as handle:
            handle.write("1000")
    except OSError:
        pass
    uid = settings.get("uid")
    if uid is not None and as_root:
        drop_privileges(int(uid), int(settings["gid"]))
        report["user"] = settings.get("user", str(uid))
    else:
        report["user"] = f"uid {os.getuid()} (not root: same user as the grader)"
    libc = _libc()
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    framework = os.environ.get("PYTHONPATH", "")
    os.environ.clear()
    os.environ.update(private_environment(workdir) if workdir is not None else SAFE_ENVIRONMENT)
    if framework:
        os.environ["PYTHONPATH"] = framework
    if block:
        report["network"] = network_report(namespace, install_syscall_filter())
    return report
