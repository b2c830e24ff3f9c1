# ---------------------------------------------------------------- attack: signals
# At the first import: SIGSTOP / SIGKILL / SIGTERM to the runner (our parent), to the supervisor (its parent),
# to their process groups, to the pid-1 init, and SIGSTOP then SIGKILL to -1 ("every process I may signal":
# as the grading account that is only the account's own processes; the caller itself is spared). Sent only as
# the grading account, so a broken sandbox cannot turn this into "kill everything of the user running tests".
def _attack_signals():
    import signal

    runner = _aos.getppid()
    with open(f"/proc/{runner}/stat") as stream:
        supervisor = int(stream.read().rsplit(")", 1)[1].split()[1])
    attempts = []
    for label, pid in (("runner", runner), ("supervisor", supervisor), ("init", 1)):
        for sig in (signal.SIGSTOP, signal.SIGKILL, signal.SIGTERM):
            attempts.append(_attack_try(f"kill {label} {pid} {sig.name}", lambda p=pid, s=sig: _aos.kill(p, s)))
    for label, pid in (("runner", runner), ("supervisor", supervisor)):
        attempts.append(_attack_try(f"killpg {label}'s group", lambda p=pid: _aos.killpg(_aos.getpgid(p), signal.SIGKILL)))
    attempts.append(_attack_try("kill -1 SIGSTOP", lambda: _aos.kill(-1, signal.SIGSTOP)))
    attempts.append(_attack_try("kill -1 SIGKILL", lambda: _aos.kill(-1, signal.SIGKILL)))
    _attack_record("signals", runner=runner, supervisor=supervisor, attempts=attempts)


if not _attack_is_student():
    _attack_record("signals", skipped="not running as the grading account")
elif not _aos.path.exists(_aos.path.join(_ATTACK_CONFIG["evidence"], "signals.jsonl")):
    _attack_signals()
