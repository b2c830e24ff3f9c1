"""Lock the worker process down before any student code is loaded.

Runs first thing in the worker, while it is still the runner's user (root on Gradescope). In order:
close every inherited file descriptor but the channel; leave the network (a new, empty network namespace:
as root directly, otherwise through a new user namespace where the kernel allows it); apply rlimits (address
space, CPU seconds, processes, file size, open files); drop to the unprivileged grading user for good; forbid
regaining privileges; die with the runner; scrub the environment. Returns what it achieved, which the
runner records in results.json, so a grader that could not block the network says so.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
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
    """Move into a fresh network namespace (only a down loopback): sockets cannot reach anything."""
    libc = _libc()
    flags = CLONE_NEWNET if as_root else CLONE_NEWUSER | CLONE_NEWNET
    if libc.unshare(flags) == 0:
        return "blocked (new network namespace)"
    error = os.strerror(ctypes.get_errno())
    return f"open: the kernel refused a new network namespace ({error})"


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


def lock_down(settings: dict[str, Any], keep_fds: tuple[int, ...]) -> dict[str, Any]:
    """Apply ``settings`` (keys: uid, gid, user, rlimits, block_network) and report what was achieved."""
    as_root = os.geteuid() == 0
    close_other_fds(keep_fds)
    report: dict[str, Any] = {"network": "open (not requested)"}
    if settings.get("block_network", True):
        report["network"] = leave_network(as_root)
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
    os.environ.update(SAFE_ENVIRONMENT)
    if framework:
        os.environ["PYTHONPATH"] = framework
    return report
