# ---------------------------------------------------------------- attack: deep_tree
# At import, in the worker: a chain of 3000 nested folders (with a file at the bottom) in the worker's own work
# folder, deeper than Python's recursion limit. The grader removes the work folders after the run; a recursive
# walk (shutil.rmtree before Python 3.12) raised RecursionError there, and the run ended as "The autograder
# itself failed". Made once per worker; breaks nothing.
def _attack_deep_tree(levels=3000):
    start = _aos.open(".", _aos.O_RDONLY)
    made = 0
    try:
        for _ in range(levels):
            _aos.mkdir("d")
            _aos.chdir("d")
            made += 1
        with open("bottom.txt", "w") as stream:
            stream.write("the bottom of the chain")
    except OSError as exc:
        _attack_record("deep_tree", event="stopped", made=made, error=str(exc)[:200])
    finally:
        _aos.fchdir(start)
        _aos.close(start)
    _attack_record("deep_tree", event="made", levels=made, cwd=_aos.getcwd())


if _attack_in_worker():
    _attack_deep_tree()
