"""The worker's seccomp filter, the clean-up of what a run leaves behind, and the [gradescope] table (fast).

The filter is checked in a child process that installs it and tries what a submission would (no root needed:
seccomp under no_new_privs works for any user). The clean-up is checked as root with a throw-away account of
its own, so it never touches a grading account another run on the machine may be using. The end-to-end checks
in Gradescope's simulated container are in tests/test_container.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.errors import SpecError
from autograder.isolation import jail, leftovers, sandbox
from autograder.layout import CourseLayout
from autograder.spec import load_spec

from conftest import TOY_ROOT

REPO = Path(__file__).resolve().parents[1]

# Installs the worker's filter, then reports what each attempt did: "ok" or the errno's name.
PROBE = r"""
import ctypes, errno, json, os, socket, subprocess, sys, threading
sys.path.insert(0, sys.argv[1])
from autograder.isolation import jail
state = jail.install_syscall_filter()
libc = ctypes.CDLL(None, use_errno=True)
def attempt(func):
    try:
        func()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
def raw(result):
    if result != 0:
        raise OSError(ctypes.get_errno(), "")
families = {"AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6, "AF_UNIX": socket.AF_UNIX,
            "AF_NETLINK": socket.AF_NETLINK, "AF_PACKET": socket.AF_PACKET, "AF_VSOCK": 40}
found = {name: attempt(lambda f=f: socket.socket(f, socket.SOCK_DGRAM if f in (16, 17) else socket.SOCK_STREAM).close())
         for name, f in families.items()}
found["socketpair"] = attempt(lambda: [s.close() for s in socket.socketpair()])
found["unshare(CLONE_NEWUSER)"] = attempt(lambda: raw(libc.unshare(0x10000000)))
found["unshare(CLONE_NEWNET)"] = attempt(lambda: raw(libc.unshare(0x40000000)))
found["setns"] = attempt(lambda: raw(libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0)))
found["clone3"] = attempt(lambda: raw(libc.syscall(435, None, 0)))
found["io_uring_setup"] = attempt(lambda: raw(libc.syscall(425, 1, None)))
found["thread"] = attempt(lambda: threading.Thread(target=print).start())
found["subprocess"] = attempt(lambda: subprocess.run(["true"], check=True))
found["fork"] = attempt(lambda: (lambda p: os._exit(0) if p == 0 else os.waitpid(p, 0))(os.fork()))
print(json.dumps({"state": state, "found": found}))
"""


@pytest.fixture(scope="module")
def probe() -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(REPO)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_filter_installs(probe: dict[str, object]) -> None:
    assert probe["state"] == "installed", probe


@pytest.mark.parametrize("family", ["AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK", "AF_PACKET", "AF_VSOCK"])
def test_no_socket_of_any_family(probe: dict[str, dict[str, str]], family: str) -> None:
    assert probe["found"][family] == "EACCES"


@pytest.mark.parametrize("call, error", [("unshare(CLONE_NEWUSER)", "EPERM"), ("unshare(CLONE_NEWNET)", "EPERM"),
                                         ("setns", "EPERM"), ("clone3", "ENOSYS"), ("io_uring_setup", "ENOSYS")])
def test_no_new_namespaces_nor_io_uring(probe: dict[str, dict[str, str]], call: str, error: str) -> None:
    assert probe["found"][call] == error


@pytest.mark.parametrize("call", ["socketpair", "thread", "subprocess", "fork"])
def test_what_honest_code_needs_still_works(probe: dict[str, dict[str, str]], call: str) -> None:
    assert probe["found"][call] == "ok"


def test_network_report_names_the_mechanism() -> None:
    refused = jail.network_report("the kernel refused a new network namespace (Operation not permitted)", "installed")
    assert refused.startswith("blocked (seccomp") and "refused a new network namespace" in refused
    assert jail.network_report("new network namespace", "not installed (ImportError: x)").startswith("blocked (new network")
    assert jail.network_report("the kernel refused", "not installed (ImportError: x)").startswith("open:")


def test_temp_and_caches_live_in_the_workers_folder(tmp_path: Path) -> None:
    environment = jail.private_environment(tmp_path)
    for name in ("TMPDIR", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "XDG_CACHE_HOME", "TORCH_HOME", "HOME"):
        assert Path(environment[name]).is_relative_to(tmp_path) and Path(environment[name]).is_dir(), name
    assert environment["PATH"] == jail.SAFE_ENVIRONMENT["PATH"]


# ------------------------------------------------------------------------------------------------ leftovers
LEAVE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
key = int(sys.argv[1])
assert libc.shmget(key, 1 << 20, 0o1600) >= 0 and libc.msgget(key + 1, 0o1600) >= 0 and libc.semget(key + 2, 1, 0o1600) >= 0
marker = sys.argv[2]
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    with open(f"{folder}/{marker}.log", "w") as stream:
        stream.write("hidden inputs")
os.makedirs(f"/tmp/{marker}-dir/locked")
os.chmod(f"/tmp/{marker}-dir", 0o500)  # its owner can still undo this; the clean-up does
os.chdir(f"/dev/shm")
os.mkdir(f"{marker}-deep"); os.chdir(f"{marker}-deep")
for _ in range(3000):  # deeper than Python's recursion limit
    os.mkdir("d"); os.chdir("d")
with open(f"{sys.argv[3]}/{marker}.kept", "w") as stream:  # in a folder of root's that is not world-writable
    stream.write("evidence")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the clean-up runs as the grading account")
def test_leftovers_of_an_account_are_removed_and_nothing_else() -> None:
    account = sandbox.grading_account("autograder-leftover-test")
    assert account is not None
    marker = f"ag-leftover-test-{os.getpid()}"
    outside = Path(tempfile.mkdtemp(prefix="ag-leftover-other-"))  # root's, mode 700 then opened below
    outside.chmod(0o755)
    shelf = outside / "shelf"
    shelf.mkdir()
    shelf.chmod(0o777)
    others = Path(f"/tmp/{marker}-root.log")
    others.write_text("root's file")
    try:
        done = subprocess.run([sys.executable, "-c", LEAVE, str(0x5B000000 + os.getpid() % 0xFFFF), marker, str(shelf)],
                              user=account.uid, group=account.gid, extra_groups=[], cwd="/", capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-1000:]
        before = leftovers.leftovers_of(account.uid)
        assert len([b for b in before if b.startswith("SysV")]) == 3 and len(before) >= 8, before
        report = leftovers.remove_leftovers(account.uid, account.gid)
        assert report.get("ipc") == 3 and not report.get("unfinished") and not report.get("errors"), report
        assert leftovers.leftovers_of(account.uid) == []
        assert others.is_file(), "a file of another user was removed"
        assert (shelf / f"{marker}.kept").is_file(), "the clean-up entered a folder only root may write to"
    finally:
        others.unlink(missing_ok=True)
        shutil.rmtree(outside, ignore_errors=True)
        leftovers.remove_leftovers(account.uid, account.gid)


def test_leftovers_refuse_the_graders_own_user() -> None:
    assert "skipped" in leftovers.remove_leftovers(os.geteuid(), os.getegid())


# ------------------------------------------------------------------------------------------------ [gradescope]
@pytest.fixture
def course(tmp_path: Path) -> CourseLayout:
    shutil.copytree(TOY_ROOT, tmp_path / "course")
    return CourseLayout(tmp_path / "course")


def with_table(course: CourseLayout, table: str, limits: str = "") -> None:
    path = course.spec_path("toy")
    text = path.read_text().replace("memory_mb = 1024", "memory_mb = 1024" + limits)
    path.write_text(text + "\n[gradescope]\n" + table + "\n")


def test_gradescope_table_is_read(course: CourseLayout) -> None:
    with_table(course, "cpus = 1.0\nmemory_mb = 1536\ntimeout_min = 10\nmeasured_peak_mb = 754\nmeasured_grade_s = 80")
    gradescope = load_spec(course, "toy").gradescope
    assert gradescope is not None and (gradescope.cpus, gradescope.memory_mb, gradescope.timeout_min) == (1.0, 1536, 10)
    assert gradescope.measured_peak_mb == 754 and "1 CPU, 1.5 GB memory, timeout 10 min" == gradescope.describe()
    assert load_spec(CourseLayout(REPO), "a1_execution_modes").gradescope is not None, "a1 must declare its container"


@pytest.mark.parametrize("table, limits, key, phrase", [
    ("cpus = 1.0\nmemory_mb = 768", "", "gradescope.memory_mb", "not a setting Gradescope offers"),
    ("cpus = 0.5\nmemory_mb = 768\nmeasured_peak_mb = 900", "", "gradescope.memory_mb", "below the 900 MB"),
    ("cpus = 0.5\nmemory_mb = 768\nmeasured_grade_s = 200", "", "gradescope.cpus", "beyond limits.deadline_s"),
    ("timeout_min = 20", "", "limits.gradescope_timeout_s", "disagrees with"),
    ("timeout_min = 50", "", "gradescope.timeout_min", "between 1 and 40"),
    ("cpu = 1.0", "", "gradescope.cpu", "not a known key"),
])
def test_a_container_that_cannot_fit_is_refused(course: CourseLayout, table: str, limits: str, key: str, phrase: str) -> None:
    with_table(course, table, limits)
    with pytest.raises(SpecError) as caught:
        load_spec(course, "toy")
    assert f"[{key}]" in str(caught.value) and phrase in str(caught.value), str(caught.value)
