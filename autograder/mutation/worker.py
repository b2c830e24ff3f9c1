"""One process that grades mutant after mutant in a single pytest session (mutants are trusted code).

Started by :mod:`autograder.mutation.run` with the assignment folder, the reference and a folder of its own
where the runner writes each mutant. It collects the correctness tests once, then its ``pytest_runtestloop``
reads one JSON request per line on stdin (``{"tests": [...], "trace": bool, "exitfirst": bool}``): it drops
the previous mutant's module, reruns the requested test items against the file now in its folder, and
answers one JSON line with the tests that failed, their durations and, when asked, the lines of the module
each test executed (the coverage map). Importing torch, the tests and pytest's machinery once per process
instead of once per mutant is what makes hundreds of mutants affordable (a fresh pytest.main cost ~2.5 s
each here; a rerun of a test item costs what the test costs).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from typing import Any, TextIO

import pytest


class MutantLoop:
    """The pytest plugin that serves requests instead of running the collected tests once."""

    def __init__(self, module: str, module_file: str, requests: TextIO, replies: TextIO) -> None:
        self.module, self.module_file, self.requests, self.replies = module, module_file, requests, replies
        self.failed: list[str] = []
        self._lines: set[int] | None = None

    def _trace(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != self.module_file:
            return None

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line" and self._lines is not None:
                self._lines.add(frame.f_lineno)
            return local
        return local

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.nodeid not in self.failed:
            self.failed.append(report.nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        from autograder.plugin import forget_submission

        items = {item.nodeid: item for item in session.items}
        for line in self.requests:
            request = json.loads(line)
            sys.modules.pop(self.module, None)  # the previous mutant's module must not be reused
            importlib.invalidate_caches()
            forget_submission(session.config)
            self.failed, durations, lines = [], {}, {}
            for nodeid in request["tests"]:
                item = items.get(nodeid)
                if item is None:
                    continue
                if hasattr(item, "_initrequest"):
                    item._initrequest()  # fresh fixture state for a rerun of the same item
                started = time.perf_counter()
                if request.get("trace"):
                    self._lines = lines.setdefault(nodeid, set())
                    sys.settrace(self._trace)
                try:
                    item.config.hook.pytest_runtest_protocol(item=item, nextitem=None)
                finally:
                    sys.settrace(None)
                    self._lines = None
                durations[nodeid] = time.perf_counter() - started
                if request.get("exitfirst") and self.failed:
                    break
            self.replies.write(json.dumps({"failed": self.failed, "durations": durations,
                                           "lines": {k: sorted(v) for k, v in lines.items()}}) + "\n")
            self.replies.flush()
        return True


def main(argv: list[str] | None = None) -> None:
    """``python -m autograder.mutation.worker ASSIGNMENT_DIR REFERENCE_DIR FOLDER MODULE INI SEED TESTS...``"""
    assignment, reference, folder, module, ini, seed, *tests = argv if argv is not None else sys.argv[1:]
    sys.dont_write_bytecode = True  # a mutant replaces a file of the same name within the same second
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")  # pytest's capture replaces sys.stdin
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever the tests or a mutant print goes to stderr, never into the replies
    loop = MutantLoop(module, os.path.join(os.path.realpath(folder), f"{module}.py"), requests, replies)
    pytest.main(["-p", "autograder.plugin", "-p", "no:cacheprovider", "-p", "no:terminal", "--rootdir", assignment,
                 "-c", ini, "--ag-submission", folder, "--ag-reference", reference, "--ag-seed", seed,
                 *[os.path.join(assignment, test) for test in tests]], plugins=[loop])


if __name__ == "__main__":
    main()
