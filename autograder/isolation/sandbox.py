"""Parent-side preparation and clean-up of the worker sandbox.

- :func:`grading_account` finds (and when root, creates) the unprivileged user that runs student code;
- :func:`prepare_worker_root` makes the world-readable folder workers start in: a copy of the framework (the
  course source folder holding hidden tests and the reference stays unreadable to that user);
- :func:`kill_user_processes` ends every process of that user, daemonised ones included, before results.json
  is written, so nothing of the student's can rewrite it afterwards.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


STUDENT_USER = "autograder-student"
REFERENCE_USER = "autograder-reference"  # runs the reference beside the student's code in perf tests
MAX_SLOTS = 64  # parallel grading runs on one machine; each slot has its own pair of accounts


SLOT_ENV = "AUTOGRADER_SLOT"


def default_slot() -> int:
    """The grading slot a run uses when none is given: ``$AUTOGRADER_SLOT``, else 0.

    Lets a second activity on a shared machine (a bench, a test session, a TA's grade beside a regrade) take a
    slot of its own without every command growing a ``--slot`` option; child processes inherit it."""
    raw = os.environ.get(SLOT_ENV, "").strip()
    if not raw:
        return 0
    try:
        slot = int(raw)
    except ValueError:
        raise ValueError(f"${SLOT_ENV}={raw!r} is not a slot number; set it to 0..{MAX_SLOTS - 1} or unset it") from None
    if not 0 <= slot < MAX_SLOTS:
        raise ValueError(f"${SLOT_ENV}={slot} is outside 0..{MAX_SLOTS - 1}; set it to a slot number or unset it")
    return slot


def slot_users(slot: int | None = None) -> tuple[str, str]:
    """(student account, reference account) of grading slot ``slot``.

    Slot 0 keeps the historical names; slot k > 0 appends ``-k``. Parallel runs (``regrade -j N``) each take
    a slot of their own, because the clean-up at the end of a run kills every process of its accounts.
    """
    slot = default_slot() if slot is None else slot
    if not 0 <= slot < MAX_SLOTS:
        raise ValueError(f"grading slot {slot} is outside 0..{MAX_SLOTS - 1}")
    suffix = "" if slot == 0 else f"-{slot}"
    return STUDENT_USER + suffix, REFERENCE_USER + suffix


def slot_accounts(slot: int | None = None, create: bool = True) -> "tuple[Account, Account] | None":
    """The slot's (student, reference) accounts, created when missing and root; None when not root."""
    student, reference = (grading_account(name, create=create) for name in slot_users(slot))
    if student is None or reference is None:
        return None
    return student, reference


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


def grading_account(name: str = STUDENT_USER, create: bool = True) -> Account | None:
    """The unprivileged account for student code, or None when we are not root (a student's laptop)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if not create:
            return None
        entry = _create_account(name)
    if entry.pw_uid == 0:
        raise RuntimeError(f"user {name} has uid 0; it must be unprivileged")
    return Account(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def _create_account(name: str, attempts: int = 20) -> pwd.struct_passwd:
    """useradd, tolerating a parallel run that creates the same account or holds /etc/passwd's lock meanwhile."""
    for attempt in range(attempts):
        done = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", "--user-group", name], capture_output=True, text=True)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            if attempt == attempts - 1:
                raise RuntimeError(f"could not create the grading account {name}: {done.stderr.strip()}") from None
            time.sleep(0.1 + 0.05 * attempt)  # "cannot lock /etc/passwd; try again later"
    raise AssertionError("unreachable")


def interpreter_folders(python: str) -> list[Path]:
    """Every folder the grading account must be able to pass through to run ``python`` and its packages."""
    result = subprocess.run([python, "-c", "import sys, sysconfig, numpy, torch; print(sys.base_prefix); "
                             "print(sys.prefix); print(sysconfig.get_paths()['purelib']); print(sysconfig.get_paths()['stdlib'])"],
                            capture_output=True, text=True, check=True)
    folders: set[Path] = set()
    for line in result.stdout.split():
        path = Path(line).resolve()
        folders.update([path, *path.parents])
    folders.update(Path(python).resolve().parents)
    return sorted(folders)


def make_interpreter_reachable(python: str) -> list[Path]:
    """Add the traverse bit (o+x, never read) to folders that hide the interpreter from other users.

    Gradescope's /usr/bin/python3 needs nothing; a development machine whose Python lives under /root (mode
    700) does. Returns the folders changed. Only as root, and only what is needed.
    """
    changed = []
    for folder in interpreter_folders(python):
        mode = folder.stat().st_mode
        if not mode & 0o001:
            os.chmod(folder, mode | 0o001)
            changed.append(folder)
    return changed


def account_can_run(python: str, account: Account) -> str | None:
    """None if the account can start ``python`` and import numpy (a quick probe: ~0.1 s); else why not."""
    try:
        probe = subprocess.run([python, "-c", "import datetime, numpy"], user=account.uid, group=account.gid,
                               extra_groups=[], capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    except OSError as exc:  # the exec itself failed: e.g. the interpreter lies under /root (mode 700)
        last = f"{type(exc).__name__}: {exc.strerror or exc}"
    else:
        if probe.returncode == 0:
            return None
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
    return (f"the grading account {account.name} cannot run {python} ({last}); as root run "
            f"`{python} -m autograder sandbox-setup` once, or install Python where every user can read it")


def jail_settings(account: Account | None, rlimits: dict[str, int] | None = None) -> dict[str, Any]:
    """What a worker applies to itself (autograder/isolation/jail.py): rlimits, the network cut, and the account
    to become when started as root. Built here only, for the student's and the reference's workers alike."""
    jail: dict[str, Any] = {"rlimits": dict(rlimits or {}), "block_network": True}
    if account is not None:
        jail.update(uid=account.uid, gid=account.gid, user=account.name)
    return jail


def prepare_worker_root() -> Path:
    """A fresh world-readable folder with ``lib/autograder``, the framework code workers import."""
    root = Path(tempfile.mkdtemp(prefix="autograder-worker-"))
    os.chmod(root, 0o755)
    package = Path(__file__).resolve().parents[1]  # the autograder package folder
    shutil.copytree(package, root / "lib" / "autograder", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in [root / "lib", *(root / "lib").rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return root


class AccountLock:
    """Holds a grading slot's accounts for one run: a second run on the same slot waits instead of sharing them
    (the clean-up at the end of a run kills every process of the accounts, another run's workers included).

    Everything that starts processes under a grading account takes this lock first: ``grade`` (the
    supervisor), calibration's and the benches' worker pairs. The lock is an ``flock`` on
    ``$TMPDIR/<student account>.lock``, released by the kernel if the holder dies. It is re-entrant within one
    thread (a tool holding it may call code that takes it again); other threads and processes wait.
    """

    _held: dict[tuple[str, int], int] = {}

    def __init__(self, account: Account | str) -> None:
        name = account if isinstance(account, str) else account.name
        self.path = Path(tempfile.gettempdir()) / f"{name}.lock"
        self._key = (str(self.path), threading.get_ident())

    @classmethod
    def for_slot(cls, slot: int | None = None) -> "AccountLock":
        return cls(slot_users(slot)[0])

    def __enter__(self) -> "AccountLock":
        import fcntl

        depth = AccountLock._held.get(self._key, 0)
        if depth == 0:
            self._file = self.path.open("a")
            os.chmod(self.path, 0o600)
            fcntl.flock(self._file, fcntl.LOCK_EX)
        AccountLock._held[self._key] = depth + 1
        return self

    def __exit__(self, *exc: object) -> None:
        depth = AccountLock._held.pop(self._key) - 1
        if depth:
            AccountLock._held[self._key] = depth
        else:
            self._file.close()  # closing releases the lock

    def busy(self) -> bool:
        """True when another process holds this lock now (a quick, non-blocking probe)."""
        import fcntl

        with self.path.open("a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(probe, fcntl.LOCK_UN)
            return False


def user_processes(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            zombie = fields.get("State", "").strip().startswith("Z")  # already dead, waiting to be reaped
            if not zombie and int(fields.get("Uid", "-1 0").split()[0]) == uid:
                pids.append(int(entry))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return pids


HELPER_WAIT_S = 1.0  # how long the kill(-1) helper may take; it needs well under a millisecond when not stopped


def _kill_all_as(uid: int) -> bool:
    """Fork, become ``uid`` and send SIGKILL to -1: the kernel delivers it to every process of that account at
    once, so a process that keeps changing its pid (fork, exit, repeat) cannot slip between listing and killing.

    Once it is ``uid``, the helper can itself be signalled by the account's processes: a daemon looping on
    ``kill(-1, SIGSTOP)`` stops it before it sends anything. So it is waited for at most HELPER_WAIT_S, then
    killed (SIGKILL ends a stopped process too). Returns whether the helper did its job."""
    gid = pwd.getpwuid(uid).pw_gid
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child exits at once
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    return _reap(pid, HELPER_WAIT_S)


def _reap(pid: int, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for child ``pid`` to exit; else SIGKILL it and reap it (briefly). Never blocks
    for ever: a child left unreaped is a zombie, which costs nothing and holds no file."""
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if time.monotonic() > deadline:
            break
        time.sleep(0.002)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            break
        time.sleep(0.005)
    return False


def _kill_each(pids: list[int]) -> None:
    """SIGKILL from this (root) process, one pid at a time: nothing of the account can stop or refuse it."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_user_processes(uid: int, attempts: int = 50, deadline_s: float = 30.0) -> int:
    """Kill every process of ``uid`` until none is left (a fork bomb needs several rounds); return how many
    were seen. Never raises and never blocks for ever (at most ~``deadline_s``): it runs in clean-up paths that
    must still write results.json and release the account lock.

    Each round kills the listed processes one by one from here (stopped ones included), then once more through
    the kill(-1) helper for any process that changed its pid meanwhile."""
    if uid == 0 or uid == os.geteuid():
        raise ValueError("refusing to kill the grader's own user")
    seen = 0
    deadline = time.monotonic() + deadline_s
    for attempt in range(attempts):
        pids = user_processes(uid)
        # Listing /proc is not atomic: a process hopping pids can look absent, so the first round kills
        # unconditionally; kill(-1) itself is atomic with respect to fork.
        if not pids and attempt > 0:
            return seen
        seen += len(pids)
        _kill_each(pids)
        try:
            _kill_all_as(uid)
        except OSError:
            _kill_each(user_processes(uid))
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return seen


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything in it, however deep, without following a symbolic link. Never raises.

    shutil.rmtree recurses once per folder level (Python < 3.12 here: RecursionError on a 3000-deep chain a
    student made in their work folder). Instead, every folder's entries are renamed up into ``path`` itself
    (through directory file descriptors opened with O_NOFOLLOW, so a swapped-in link cannot redirect anything),
    then the emptied folder is removed: the depth of the tree never matters, and at most two folders are open."""
    try:
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        try:
            os.unlink(path)  # a file or a link in its place: remove that, never what it points to
        except OSError:
            pass
        return
    try:
        _empty_folder(top)
    finally:
        os.close(top)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _empty_folder(top: int, max_rounds: int = 10) -> None:
    """Remove every entry under the folder open as ``top`` (see :func:`remove_tree`). Entries that fail are
    tried again in a later round; a round that removes nothing ends the loop, so it cannot spin."""
    counter = 0
    for _ in range(max_rounds):
        with os.scandir(top) as listing:
            queue = [entry.name for entry in listing]
        if not queue:
            return
        progress = False
        while queue:
            name = queue.pop()
            try:
                folder = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top)
            except OSError:  # not a folder (or a link to one): unlink the entry itself
                try:
                    os.unlink(name, dir_fd=top)
                    progress = True
                except OSError:
                    pass
                continue
            try:
                with os.scandir(folder) as inner:
                    children = [child.name for child in inner]
                for child in children:
                    counter += 1
                    hoisted = f".ag-rm-{os.getpid()}-{counter}"
                    os.rename(child, hoisted, src_dir_fd=folder, dst_dir_fd=top)
                    queue.append(hoisted)
                os.rmdir(name, dir_fd=top)
                progress = True
            except OSError:
                continue
            finally:
                os.close(folder)
        if not progress:
            return
