"""A student's module that is also a command line program (the framework's own tests run it)."""

import os
import signal
import socket
import sys


class ToolError(Exception):
    """Everything tools.py raises."""


class BadInput(ToolError, ValueError):
    """An input out of range."""


def check(value):
    if value < 0:
        raise BadInput(f"negative: {value}")
    return value


def crash():
    """Ends the student's process in the middle of a call (the grader must charge only that test)."""
    os._exit(3)


def main(mode):
    if mode == "whoami":
        print(os.getuid(), os.getcwd(), sys.executable)
    elif mode == "echo":
        sys.stdout.write(sys.stdin.read().upper())
    elif mode == "spin":
        while True:
            pass
    elif mode == "flood":
        chunk = "x" * 65536
        for _ in range(160):  # 10 MiB
            sys.stdout.write(chunk)
    elif mode == "env":
        print(os.environ.get("GREETING", "(unset)"))
    elif mode == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "net":
        try:
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("1.1.1.1", 80))
            print("connected")
        except OSError as exc:
            print(f"refused: {exc}")
    elif mode == "write":
        with open("made_by_program.txt", "w") as handle:
            handle.write("hello")
        print(open("made_by_program.txt").read())


if __name__ == "__main__":
    main(sys.argv[1])
