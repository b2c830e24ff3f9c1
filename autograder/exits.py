"""Why a process ended, in words for a student: shared by the supervisor (its test process) and the proxy
(the student's worker), so the isolation layer never imports the supervisor above it."""

from __future__ import annotations

import signal


def describe_exit(returncode: int) -> str:
    """Say in words why a process ended, for the student."""
    if returncode < 0:
        sig = -returncode
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        if sig == signal.SIGKILL:
            return f"it was killed ({name}); this usually means it ran out of memory"
        if sig == signal.SIGSEGV:
            return f"it crashed with a segmentation fault ({name}), e.g. from ctypes or an out-of-bounds native call"
        return f"it was stopped by {name}"
    return (f"the process exited with code {returncode} in the middle of the test; code that calls "
            "sys.exit(), os._exit() or exit() ends the grader too")
