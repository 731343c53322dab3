"""Capturing a workflow's `logging` records and `print` output as ExecutionLog rows (DESIGN §9).

One `LogCollector` per execution: lines get a gap-free `sequence` from an in-memory counter
(starting after the highest stored one), are masked, buffered, and written by a background
flusher thread in batches (every 50 ms, or sooner once 100 lines wait) with `bulk_create`;
only after a batch is stored is it broadcast with `events.emit_log_lines`.

Which collector a record belongs to is decided by a ContextVar, so several executions in one
process (threads pool) never mix lines, and asyncio tasks / `asyncio.to_thread` calls of the
workflow inherit it. A bare thread the workflow starts itself does not (like bifrost.runtime).
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import traceback
from contextlib import contextmanager

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from bifrost.masking import SecretMasker
from executions import events
from executions.engine.dbretry import retry_db
from executions.models import ExecutionLog, LogLevel

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.05
FLUSH_LINES = 100
MAX_BATCH = 1000
MAX_MESSAGE_CHARS = 32_000
# Records from these loggers are the platform's own, not the workflow's.
IGNORED_LOGGERS = ("celery", "kombu", "amqp", "executions.", "bifrost_site", "django.db", "asyncio", "watchdog")

_active: contextvars.ContextVar[LogCollector | None] = contextvars.ContextVar("bifrost_log_collector", default=None)

LEVELS = (
    (logging.ERROR, LogLevel.ERROR),
    (logging.WARNING, LogLevel.WARNING),
    (logging.INFO, LogLevel.INFO),
)


def collecting() -> bool:
    """True while this context runs a workflow whose log lines a LogCollector stores."""
    return _active.get() is not None


def level_for(levelno: int) -> str:
    for threshold, level in LEVELS:
        if levelno >= threshold:
            return level
    return LogLevel.DEBUG


def next_sequence(execution_id) -> int:
    current = ExecutionLog.objects.filter(execution_id=execution_id).aggregate(m=Max("sequence"))["m"]
    return (current or 0) + 1


class LogCollector:
    def __init__(self, execution_id, *, masker: SecretMasker | None = None, start_sequence: int | None = None):
        self.execution_id = execution_id
        self.masker = masker
        # Lines are numbered 1, 2, ... as they come; the offset (the highest sequence already stored,
        # e.g. by an earlier attempt) is looked up by the flusher before its first write, so an
        # execution that logs nothing costs no query and no thread.
        self._count = 0
        self._offset = None if start_sequence is None else start_sequence - 1
        self._pending: list[ExecutionLog] = []
        self._partial: dict[str, str] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._started = False
        self.written = 0

    # -- producing ----------------------------------------------------------------------
    def add(self, level: str, message: str, data=None) -> None:
        if self.masker:
            message = self.masker.mask(message)
            if data is not None:
                data = self.masker.mask_data(data)
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 1] + "…"
        message = message.replace("\x00", "\ufffd")
        now = timezone.now()
        with self._cond:
            line = ExecutionLog(
                execution_id=self.execution_id,
                sequence=self._count + 1,
                level=level,
                message=message,
                data=data,
                timestamp=now,
            )
            self._count += 1
            self._pending.append(line)
            if self._started and self._thread is None and not self._closed:
                self._spawn()
            elif len(self._pending) >= FLUSH_LINES:
                self._cond.notify()

    def write_stream(self, level: str, text: str) -> None:
        """print() output: buffer partial lines, emit whole ones."""
        with self._cond:
            buffered = self._partial.get(level, "") + text
            *lines, rest = buffered.split("\n")
            self._partial[level] = rest
        for line in lines:
            self.add(level, line.rstrip("\r"))

    # -- flushing -----------------------------------------------------------------------
    def start(self) -> LogCollector:
        """Flush in the background from the first line on (the thread starts with that line)."""
        with self._cond:
            self._started = True
            if self._pending and self._thread is None:
                self._spawn()
        return self

    def _spawn(self) -> None:  # with self._cond held
        self._thread = threading.Thread(target=self._run, name=f"bifrost-logs-{self.execution_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    if not self._pending and not self._closed or len(self._pending) < FLUSH_LINES and not self._closed:
                        self._cond.wait(FLUSH_INTERVAL)
                    batch = self._pending[:MAX_BATCH]
                    del self._pending[:MAX_BATCH]
                    done = self._closed and not self._pending
                if batch:
                    self._write(batch)
                if done and not batch:
                    break
        finally:
            connection.close()

    def _write(self, batch: list[ExecutionLog]) -> None:
        tries = 0
        numbered = False

        def store():
            nonlocal tries, numbered
            tries += 1
            if self._offset is None:  # lines of an earlier attempt come first: number after them
                self._offset = next_sequence(self.execution_id) - 1
            if not numbered:
                numbered = True
                for line in batch:
                    line.sequence += self._offset
            # a retry may follow a write that committed before its connection died: skip what is there
            ExecutionLog.objects.bulk_create(batch, ignore_conflicts=tries > 1)

        try:
            retry_db(store, what="storing log lines")
        except Exception:
            logger.exception("could not store %d log lines of execution %s", len(batch), self.execution_id)
            return
        self.written += len(batch)
        events.emit_log_lines(self.execution_id, batch)

    def close(self) -> None:
        """Flush partial print lines and everything pending; wait for the flusher."""
        with self._cond:
            partial = {k: v for k, v in self._partial.items() if v}
            self._partial.clear()
        for level, text in partial.items():
            self.add(level, text)
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        else:  # never started: write synchronously
            with self._cond:
                batch, self._pending = self._pending, []
            if batch:
                self._write(batch)

    @contextmanager
    def capturing(self):
        """Route this context's logging records and print output to the collector."""
        install()
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)


def log_line(execution_id, level: str, message: str, *, masker: SecretMasker | None = None) -> None:
    """Store and broadcast one line outside a running workflow (engine decisions, cleanup)."""
    collector = LogCollector(execution_id, masker=masker)
    collector.add(level, message)
    collector.close()


# --------------------------------------------------------------------------- hooks


class ExecutionLogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        collector = _active.get()
        if collector is None or record.name.startswith(IGNORED_LOGGERS):
            return
        try:
            collector.add(level_for(record.levelno), record.getMessage())
            if record.exc_info:
                # The author chose the message's words; the exception's text and traceback are admin-only.
                collector.add(LogLevel.TRACEBACK, "".join(traceback.format_exception(*record.exc_info)).rstrip())
        except Exception:
            self.handleError(record)


class _StreamProxy:
    """Stands in for sys.stdout / sys.stderr: inside an execution, writes become log lines."""

    def __init__(self, original, level: str) -> None:
        self._original = original
        self._level = level

    def write(self, text) -> int:
        collector = _active.get()
        if collector is None:
            return self._original.write(text)
        collector.write_stream(self._level, str(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _active.get() is None:
            try:
                self._original.flush()
            except Exception:
                pass

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._original, name)


_handler = ExecutionLogHandler()
_install_lock = threading.Lock()


def install() -> None:
    """Attach the handler to the root logger and wrap stdout/stderr (idempotent)."""
    with _install_lock:
        root = logging.getLogger()
        if _handler not in root.handlers:
            root.addHandler(_handler)
        if not isinstance(sys.stdout, _StreamProxy):
            sys.stdout = _StreamProxy(sys.stdout, LogLevel.INFO)
        if not isinstance(sys.stderr, _StreamProxy):
            sys.stderr = _StreamProxy(sys.stderr, LogLevel.ERROR)
