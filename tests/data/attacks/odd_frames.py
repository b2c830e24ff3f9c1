# ---------------------------------------------------------------- attack: odd_frames
# At import, in the worker: wrap the worker's own error description (Server.describe in the worker's __main__)
# so that every error it reports carries "frames" that are not a list of strings: numbers, dicts, None, nested
# lists, a 100,000-character line and a line full of escape sequences. A list of non-strings used to replace
# the whole run with "The autograder itself failed" and 0 tests. Breaks nothing by itself: the tests that fail
# anyway (hostile_message's) carry the odd frames.
def _attack_odd_frames():
    server = getattr(_asys.modules.get("__main__"), "Server", None)
    if server is None:
        _attack_record("odd_frames", event="no worker Server found")
        return
    honest_describe = server.describe

    def describe(self, exc):
        described = honest_describe(self, exc)
        described["frames"] = [1, {"a": 2}, None, ["x"], 2.5, "y" * 100_000,
                               '  File "execution_modes.py", line 1, in get_device\x1b[2J\x1b]0;title\x07']
        return described

    server.describe = describe
    _attack_record("odd_frames", event="patched Server.describe")


if _attack_in_worker():
    _attack_odd_frames()
