# ---------------------------------------------------------------- attack harness (tests/data/attacks/_common.py)
# Appended after the honest a1 reference, before the attack snippets, by tests/test_attacks.py. Every attack
# reports what it tried and what happened through _attack_record(): one JSON line per record in
# EVIDENCE/<attack>.jsonl (a world-writable folder the test reads after the run) and on stdout (so anything
# secret an attack manages to read would also surface in results.json, where the test looks for it).
# Attacks that start processes or send signals act only when this code runs as the grading account
# (_attack_is_student()), and every loop is bounded, so a broken sandbox cannot harm the machine running the tests.
import json as _ajson
import os as _aos
import sys as _asys
import time as _atime

_ATTACK_CONFIG = __ATTACK_CONFIG__
_attack_now = _atime.time  # kept before any attack patches the time module


def _attack_is_student():
    import pwd

    try:
        return _aos.getuid() != 0 and pwd.getpwuid(_aos.getuid()).pw_name == _ATTACK_CONFIG["student"]
    except KeyError:
        return False


def _attack_alive(pid):
    """Whether process ``pid`` exists (a permission error means it does, under another account)."""
    try:
        _aos.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _attack_in_worker():
    """True in the untrusted worker (started with --requests); False if this code ever runs in the runner."""
    return "--requests" in _asys.argv


def _attack_record(attack, echo=True, **facts):
    facts = {"attack": attack, "pid": _aos.getpid(), "uid": _aos.getuid(), "time": _attack_now(), **facts}
    line = _ajson.dumps(facts, default=repr)
    try:
        with open(_aos.path.join(_ATTACK_CONFIG["evidence"], attack + ".jsonl"), "a") as stream:
            stream.write(line + "\n")
    except OSError:
        pass
    if echo:
        print("ATTACK " + line[:20000], flush=True)


def _attack_try(what, func):
    """Run one attempt; record its result (text results cut to 3000 characters) or its error."""
    try:
        result = func()
        if isinstance(result, bytes):
            result = result.decode("utf-8", "replace")
        if isinstance(result, str):
            result = result[:3000]
        return {"what": what, "ok": True, "result": result}
    except BaseException as exc:  # noqa: BLE001 - an attack records whatever stopped it
        return {"what": what, "ok": False, "error": type(exc).__name__, "message": str(exc)[:300]}


def _attack_read(path, size=3000):
    with open(path, "rb") as stream:
        return stream.read(size)


def _attack_paths(*relative):
    """The same file under the graded root and under Gradescope's /autograder."""
    return [_aos.path.join(base, *relative) for base in (_ATTACK_CONFIG["root"], "/autograder")]
