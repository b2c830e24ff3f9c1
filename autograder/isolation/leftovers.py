"""Remove what one grading run leaves behind, so that nothing of it reaches the next run on the machine.

Student code runs as a grading account that later runs the next submission (a staff regrade, a TA's second
``grade``). Whatever that account owns outside the worker's own folder survives the run unless removed:
SysV shared memory, message queues and semaphores (a detached segment keeps its memory: 1.58 GB of it made the
next honest grade run out of memory under a container limit), and files in the world-writable temp folders
(a poisoned ``/tmp/torchinductor_<account>`` cache ran in the next student's process; hidden-test inputs
logged to /tmp were read by a later grade; a filled /tmp cost the next one points).

Inside Gradescope's container the worker cannot have private, size-limited temp mounts or its own IPC
namespace (no CAP_SYS_ADMIN), so this clean-up is the guarantee: :func:`remove_leftovers` runs after every
process of the accounts is killed (``Supervisor.run``). Where the kernel allows it the worker also has its own
IPC namespace (see jail.py), whose objects die with it.

The removal runs *as the account* (a fresh interpreter started with ``user=``): it can delete exactly what
the account could delete itself, so a symlink swapped into /tmp cannot turn root's clean-up against other
files, and no capability beyond CAP_SETUID is needed (Docker's default set has it; IPC_RMID on another
user's segment would need CAP_SYS_ADMIN). The walk is iterative (a 3000-deep folder chain cannot raise
RecursionError), descends only into folders the account owns or that anyone may write, and is bounded in
time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

TEMP_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock")
TIMEOUT_S = 60.0

# Runs as the account, in `python -I -c`: no import of the framework (its copy may be unreadable by then).
_CLEANER = r'''
import ctypes, json, os, stat, sys, time
me = os.getuid()
roots, deadline = json.loads(sys.argv[1]), time.monotonic() + float(sys.argv[2])
report = {"ipc": 0, "files": 0, "folders": 0, "errors": 0, "unfinished": False}
libc = ctypes.CDLL(None, use_errno=True)
IPC_RMID = 0
for kind, remove in (("shm", lambda i: libc.shmctl(i, IPC_RMID, None)), ("msg", lambda i: libc.msgctl(i, IPC_RMID, None)),
                     ("sem", lambda i: libc.semctl(i, 0, IPC_RMID))):
    try:
        with open(f"/proc/sysvipc/{kind}") as table:
            header = table.readline().split()
            rows = [dict(zip(header, line.split())) for line in table]
    except OSError:
        continue
    for row in rows:
        try:
            mine = me in (int(row["uid"]), int(row["cuid"]))
            ident = int(row["shmid" if kind == "shm" else "msqid" if kind == "msg" else "semid"])
        except (KeyError, ValueError):
            continue
        if mine:
            if remove(ident) == 0:
                report["ipc"] += 1
            else:
                report["errors"] += 1

def remove_owned(parent_fd, name):
    """Delete parent/name (owned by us) and everything below it, without recursion and without following links."""
    stack = [(parent_fd, name, None)]  # (dir fd, entry name, fd of entry once opened as a folder)
    while stack:
        if time.monotonic() > deadline:
            report["unfinished"] = True
            return
        dir_fd, entry, own_fd = stack[-1]
        if own_fd is None:
            try:
                info = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                stack.pop(); continue
            if not stat.S_ISDIR(info.st_mode):
                try:
                    os.unlink(entry, dir_fd=dir_fd); report["files"] += 1
                except OSError:
                    report["errors"] += 1
                stack.pop(); continue
            try:
                if info.st_uid == me:
                    os.chmod(entry, 0o700, dir_fd=dir_fd, follow_symlinks=False)
                own_fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError:
                report["errors"] += 1; stack.pop(); continue
            stack[-1] = (dir_fd, entry, own_fd)
            try:
                children = [e.name for e in os.scandir(own_fd)]
            except OSError:
                children = []
            stack.extend((own_fd, child, None) for child in children)
            continue
        os.close(own_fd)
        stack.pop()
        try:
            os.rmdir(entry, dir_fd=dir_fd); report["folders"] += 1
        except OSError:
            report["errors"] += 1

def sweep(root):
    """Remove what we own under root; look inside folders of others only where anyone may write."""
    todo = [root]
    while todo and time.monotonic() < deadline:
        folder = todo.pop()
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            entries = list(os.scandir(fd))
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if info.st_uid == me:
                    remove_owned(fd, entry.name)
                elif stat.S_ISDIR(info.st_mode) and info.st_mode & 0o002:
                    todo.append(os.path.join(folder, entry.name))
        finally:
            os.close(fd)
    if todo:
        report["unfinished"] = True

for root in roots:
    sweep(root)
print(json.dumps(report))
'''


def remove_leftovers(uid: int, gid: int, python: str = sys.executable, folders: tuple[str, ...] = TEMP_FOLDERS,
                     timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    """Remove the SysV IPC objects and temp files ``uid`` owns; return counts (or the error) for results.json.

    Call only once every process of ``uid`` is dead. Never raises: it runs in the clean-up path that must
    still write results.json.
    """
    if uid == 0 or uid == os.geteuid():
        return {"skipped": "refusing to clean up after the grader's own user"}
    roots = [f for f in folders if os.path.isdir(f)]
    try:
        done = subprocess.run([python, "-I", "-S", "-c", _CLEANER, json.dumps(roots), str(timeout_s)],
                              user=uid, group=gid, extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin"},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s + 10)
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}


def leftovers_of(uid: int, folders: tuple[str, ...] = TEMP_FOLDERS) -> list[str]:
    """What ``uid`` still owns: SysV objects and top-level temp entries (for tests and the TA's checks)."""
    found = []
    for kind in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}", encoding="ascii") as table:
                header = table.readline().split()
                for line in table:
                    row = dict(zip(header, line.split()))
                    if str(uid) in (row.get("uid"), row.get("cuid")):
                        found.append(f"SysV {kind} {line.split()[1]}")
        except OSError:
            continue
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    found.append(entry.path)
            except OSError:
                continue
    return found


if __name__ == "__main__":  # pragma: no cover - `python -m autograder.isolation.leftovers ACCOUNT`: a TA's clean-up
    import pwd

    entry = pwd.getpwnam(sys.argv[1])
    print(json.dumps(remove_leftovers(entry.pw_uid, entry.pw_gid)))
