"""Riding out a database restart inside a worker (issue 9, faults).

A workflow runs for seconds or minutes; if PostgreSQL restarts meanwhile, the worker's connection
is dead when the engine next writes (log lines, the final status). Django reconnects only at the
start of a task, so without this the final UPDATE raised, the task failed and the row stayed
`Running` until the stuck-execution cleanup (timeout + 5 minutes). The engine's writes are
idempotent (conditional status transitions; log lines keyed by sequence), so they are retried on a
fresh connection with backoff for up to `ENGINE_DB_RETRY_SECONDS`.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection
from django.db.utils import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, InterfaceError)


def retry_db(fn, *, what: str, seconds: float | None = None, first_delay: float = 0.2, max_delay: float = 2.0):
    """Call `fn()`; on a connection error close this thread's connection and try again until the deadline.

    Never retries inside an atomic block (the transaction is gone; the caller's caller must redo it).
    """
    budget = settings.ENGINE_DB_RETRY_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + budget
    delay = first_delay
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except DB_ERRORS as exc:
            # The first retry is at once: usually a kept connection that the server closed.
            wait = delay if attempt > 1 else 0.0
            if connection.in_atomic_block or time.monotonic() + wait > deadline:
                raise
            logger.warning(
                "database unavailable while %s (attempt %d: %s); retrying in %.1fs",
                what, attempt, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, wait,
            )  # fmt: skip
            connection.close()
            if wait:
                time.sleep(wait)
                delay = min(delay * 2, max_delay)
