"""The workflow's own log records: the author's words are shown, an exception's text is admin-only."""

import logging

import pytest

from executions.engine.logs import LogCollector
from executions.models import ExecutionLog, LogLevel
from executions.tests.factories import ExecutionFactory

pytestmark = pytest.mark.django_db


def test_logger_exception_keeps_the_exception_text_on_an_admin_only_line():
    execution = ExecutionFactory()
    collector = LogCollector(execution.id)
    with collector.capturing():
        try:
            raise RuntimeError("internal connection string detail")
        except RuntimeError:
            logging.getLogger("workflow.test").exception("could not reach %s", "the tenant")
    collector.close()
    lines = list(ExecutionLog.objects.filter(execution=execution).order_by("sequence").values_list("level", "message"))
    assert lines[0] == (LogLevel.ERROR, "could not reach the tenant")
    assert lines[1][0] == LogLevel.TRACEBACK
    assert "RuntimeError: internal connection string detail" in lines[1][1]
    assert len(lines) == 2
