"""Capturing a workflow function's local variables at return or exception.

Python 3.11 has no per-code-object monitoring, so a thread-local trace function is installed
for the duration of the call: it returns a local tracer only for frames of the workflow's own
code object (with line events off), so the cost elsewhere is one cheap call per new frame and
nothing per line. For coroutines the last suspension/return wins, i.e. the final locals.
"""

from __future__ import annotations

import sys
from types import CodeType


class LocalsCapture:
    def __init__(self, code: CodeType) -> None:
        self.code = code
        self.locals: dict | None = None
        self._previous = None

    def _global(self, frame, event, arg):
        if frame.f_code is self.code:
            frame.f_trace_lines = False
            return self._local
        return None

    def _local(self, frame, event, arg):
        if event == "return":
            self.locals = dict(frame.f_locals)
        return self._local

    def __enter__(self) -> LocalsCapture:
        self._previous = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc) -> None:
        sys.settrace(self._previous)
