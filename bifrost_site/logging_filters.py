"""Logging filters referenced by settings.LOGGING (importable before Django's apps are ready)."""

from __future__ import annotations

import logging
import sys


class NotCapturedByExecution(logging.Filter):
    """Drop records that a running execution already stores as its log lines (executions.engine.logs).

    Without it every `logger.info()` of a workflow was also formatted and written to the worker's
    console: a third of the worker's time for an execution logging 10,000 lines, and the same
    lines twice. LOG_WORKFLOW_LINES=true keeps them on the console as well.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        logs = sys.modules.get("executions.engine.logs")
        if logs is None or not logs.collecting():
            return True
        return record.name.startswith(logs.IGNORED_LOGGERS)
