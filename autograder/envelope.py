"""A simulated Gradescope container: run a command under a CPU quota, a memory limit and Docker's confinement.

Gradescope runs ``run_autograder`` in a Docker container with a CPU quota and a memory limit (0.5 CPU / 768 MB by
default; 1.0 / 1.5 GB, 2.0 / 3 GB, 4.0 / 6 GB on request), as root without CAP_SYS_ADMIN, under Docker's default
seccomp profile, which refuses new namespaces. This module reproduces that on a machine with cgroup v1 mounted
at /sys/fs/cgroup/{cpu,cpuacct,memory} (as root): a fresh cgroup per run with ``cpu.cfs_quota_us`` and
``memory.limit_in_bytes`` set as ``docker run --cpus --memory`` sets them, and, with ``docker_caps``, the
capability bounding set cut to Docker's default set plus a seccomp filter refusing ``unshare``, ``setns`` and
``clone`` with namespace flags (EPERM) and ``clone3`` (ENOSYS), as Docker's profile does.

It reports what the Gradescope settings need: wall time, peak memory of the whole cgroup (page cache included,
as the container's limit counts it), how often the quota throttled it, CPU seconds, and memory-limit hits.

    python -m autograder.envelope --cpus 0.5 --memory-mb 768 --results results/results.json -- ./run_autograder

(run in the /autograder root) prints the score and these figures. The tests use :func:`run_in_envelope`.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpu", "cpuacct", "memory")
PERIOD_US = 100_000
# Docker's default capabilities (moby's oci/caps/defaults.go), by number: chown, dac_override, fowner, fsetid,
# kill, setgid, setuid, setpcap, net_bind_service, net_raw, sys_chroot, mknod, audit_write, setfcap.
DOCKER_CAPABILITIES = frozenset({0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31})
CLONE_NEW_FLAGS = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
GRADESCOPE_SETTINGS = ((0.5, 768), (1.0, 1536), (2.0, 3072), (4.0, 6144))  # (CPUs, memory MB) the UI offers


@dataclass(frozen=True)
class Envelope:
    """One container setting: ``cpus`` of CPU quota, ``memory_mb`` of memory, Docker's confinement or not."""

    cpus: float
    memory_mb: int
    docker_caps: bool = True


@dataclass
class EnvelopeRun:
    """What one command did inside the envelope."""

    returncode: int
    timed_out: bool
    wall_s: float
    peak_mb: float        # memory.max_usage_in_bytes: the whole cgroup, page cache included
    limit_hits: int       # memory.failcnt: times usage reached the limit (reclaim, then the OOM killer)
    throttled_periods: int
    throttled_s: float
    cpu_s: float | None   # cpuacct.usage, when the cpuacct controller is mounted

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def unavailable() -> str | None:
    """Why this machine cannot simulate the envelope (None when it can)."""
    if os.geteuid() != 0:
        return "needs root (it creates cgroups and drops capabilities)"
    for controller in ("cpu", "memory"):
        if not (CGROUP_ROOT / controller / "cgroup.procs").is_file():
            return f"cgroup v1 controller {controller} is not mounted at {CGROUP_ROOT / controller}"
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, RuntimeError) as exc:
        return f"pyseccomp (libseccomp) is not usable: {exc}"
    return None


def _write(path: Path, value: object) -> None:
    path.write_text(str(value), encoding="ascii")


def _read_int(path: Path, default: int = 0) -> int:
    try:
        return int(path.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _cpu_stat(folder: Path) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in (line.split() for line in (folder / "cpu.stat").read_text().splitlines())}
    except (OSError, ValueError):
        return {}


def _make_cgroups(envelope: Envelope) -> dict[str, Path]:
    name = f"autograder-envelope-{uuid.uuid4().hex[:12]}"
    folders = {c: CGROUP_ROOT / c / name for c in CONTROLLERS if (CGROUP_ROOT / c / "cgroup.procs").is_file()}
    for folder in folders.values():
        folder.mkdir()
    _write(folders["cpu"] / "cpu.cfs_period_us", PERIOD_US)
    _write(folders["cpu"] / "cpu.cfs_quota_us", int(envelope.cpus * PERIOD_US))
    _write(folders["memory"] / "memory.limit_in_bytes", envelope.memory_mb * 1024 * 1024)
    return folders


def _remove_cgroups(folders: dict[str, Path]) -> None:
    """Kill whatever is left in the envelope (a container stops as a whole) and remove its cgroups."""
    for _ in range(200):
        pids = {int(p) for f in folders.values() for p in _procs(f)}
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    for folder in folders.values():
        for _ in range(100):
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


def _procs(folder: Path) -> list[str]:
    try:
        return (folder / "cgroup.procs").read_text().split()
    except OSError:
        return []


def run_in_envelope(command: Sequence[str], envelope: Envelope, *, cwd: Path, env: dict[str, str] | None = None,
                    timeout_s: float = 1200, output: Path | None = None) -> EnvelopeRun:
    """Run ``command`` inside a fresh envelope and measure it; the envelope is removed afterwards."""
    if problem := unavailable():
        raise RuntimeError(f"cannot simulate the Gradescope envelope: {problem}")
    folders = _make_cgroups(envelope)
    inner = [sys.executable, str(Path(__file__).resolve()), "--join", *[str(f) for f in folders.values()]]
    if envelope.docker_caps:
        inner.append("--docker-caps")
    sink = output.open("wb") if output is not None else None  # None: this process's own stdout
    started = time.monotonic()
    timed_out = False
    try:
        process = subprocess.Popen([*inner, "--", *command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=sink, stderr=subprocess.STDOUT)
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            for pid in {int(p) for f in folders.values() for p in _procs(f)}:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            returncode = process.wait()
        wall = time.monotonic() - started
        stat = _cpu_stat(folders["cpu"])
        usage = _read_int(folders["cpuacct"] / "cpuacct.usage", -1) if "cpuacct" in folders else -1
        return EnvelopeRun(
            returncode=returncode, timed_out=timed_out, wall_s=round(wall, 2),
            peak_mb=round(_read_int(folders["memory"] / "memory.max_usage_in_bytes") / 2**20, 1),
            limit_hits=_read_int(folders["memory"] / "memory.failcnt"),
            throttled_periods=stat.get("nr_throttled", 0), throttled_s=round(stat.get("throttled_time", 0) / 1e9, 2),
            cpu_s=round(usage / 1e9, 2) if usage >= 0 else None)
    finally:
        if sink is not None:
            sink.close()
        _remove_cgroups(folders)


def confine_like_docker() -> None:
    """In this process, before exec: Docker's seccomp refusal of new namespaces and its capability set."""
    import pyseccomp as seccomp

    refused = seccomp.SyscallFilter(seccomp.ALLOW)
    refused.set_attr(seccomp.Attr.CTL_NNP, 0)  # Docker does not set no_new_privs; we still hold CAP_SYS_ADMIN here
    for name in ("unshare", "setns"):
        refused.add_rule(seccomp.ERRNO(errno.EPERM), name)
    for flag in CLONE_NEW_FLAGS:
        refused.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    refused.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    refused.load()
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, pr_cap_ambient, pr_cap_ambient_clear_all = 24, 47, 4
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for capability in range(last + 1):
        if capability not in DOCKER_CAPABILITIES and libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"could not drop capability {capability}")
    libc.prctl(pr_cap_ambient, pr_cap_ambient_clear_all, 0, 0, 0)


def _inner(folders: list[str], docker_caps: bool, command: list[str]) -> None:
    for folder in folders:
        _write(Path(folder) / "cgroup.procs", os.getpid())
    if docker_caps:
        confine_like_docker()
    os.execvp(command[0], command)


def score_of(results_path: Path) -> tuple[float | None, float]:
    """(score, max score) of a results.json; score None when it is missing or unreadable."""
    try:
        data = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, 0.0
    return data.get("score"), sum(float(t.get("max_score", 0)) for t in data.get("tests", []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--join", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--cpus", type=float, default=0.5)
    parser.add_argument("--memory-mb", type=int, default=768)
    parser.add_argument("--docker-caps", action="store_true", help="Docker's capability set and namespace refusal")
    parser.add_argument("--results", type=Path, default=None, help="results.json to read the score from")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("command", nargs="+")
    options = parser.parse_args(argv)
    if options.join:
        _inner(options.join, options.docker_caps, options.command)
    run = run_in_envelope(options.command, Envelope(options.cpus, options.memory_mb, options.docker_caps),
                          cwd=Path.cwd(), env=dict(os.environ), timeout_s=options.timeout)
    line = run.to_json()
    if options.results is not None:
        line["score"], line["max_score"] = score_of(options.results)
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
