"""The line-delimited JSON stream from the pytest child to the supervising parent.

The child writes one event per line and flushes at once, so whatever it reported before dying (crash,
``os._exit``, segfault, OOM kill) is already in the parent's hands. Both sides use this module so the field
names live in one place.
"""

from __future__ import annotations

import json
import os
import select
from dataclasses import dataclass, field
from typing import Any, Iterator, TextIO

# Event kinds.
COLLECTED = "collected"          # {"tests": [TestInfo...]}
COLLECT_ERROR = "collect_error"  # {"file": str, "message": str}
START = "start"                  # {"nodeid": str}
IMPORT = "import"                # {"module": str, "state": "start" | "done" | "failed"}
RESULT = "result"                # {"nodeid": str, ...outcome fields}
FINISHED = "finished"            # the child ran everything it was given
ISOLATION = "isolation"          # {"workers": [jail reports], "lost": [reasons], "started": int}

MAX_FIELD_CHARS = 20_000


def cap(text: str | None, limit: int = MAX_FIELD_CHARS) -> str:
    """Cut ``text`` to ``limit`` characters, saying how much was cut, so no event or output can balloon."""
    if not text:
        return ""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit:,} more characters cut]"


class EventWriter:
    """Child side: writes events to an inherited file descriptor, one flushed line each."""

    def __init__(self, fd: int) -> None:
        self._stream: TextIO = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def emit(self, kind: str, **payload: Any) -> None:
        self._stream.write(json.dumps({"event": kind, **payload}, default=str) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


@dataclass
class EventReader:
    """Parent side: non-blocking line reader over the read end of the pipe."""

    fd: int
    _buffer: bytes = field(default=b"")
    closed: bool = False

    def poll(self, timeout_s: float) -> Iterator[dict[str, Any]]:
        """Yield every complete event that arrives within ``timeout_s`` (fewer if the pipe closes)."""
        if self.closed:
            return
        ready, _, _ = select.select([self.fd], [], [], max(timeout_s, 0.0))
        if not ready:
            return
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.closed = True
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn line can only come from a child killed mid-write; ignore it
