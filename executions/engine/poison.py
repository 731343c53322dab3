"""Poison messages (DESIGN §9): a message the worker cannot decode or handle is rejected without
requeue, so the queue's dead-letter exchange routes it to `<queue>.dead`, and the execution it
names (when an id can be read) is marked Failed with error_type "PoisonMessage".

Celery already rejects unknown and invalid task messages (`task_rejected` signal, handled in
`executions.signals`); it *acks* undecodable ones, which `BifrostConsumer.on_decode_error` changes to a reject.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
RUN_TASK = "executions.run_execution"


def execution_id_from(message) -> str | None:
    """Best effort: the execution id a run_execution message was meant for."""
    headers = getattr(message, "headers", None) or {}
    if headers.get("task") not in (None, RUN_TASK):
        return None
    candidates = [headers.get("execution_id"), headers.get("argsrepr"), headers.get("kwargsrepr")]
    body = getattr(message, "body", b"")
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    candidates.append(body if isinstance(body, str) else json.dumps(body, default=str))
    for text in candidates:
        if not text:
            continue
        match = UUID_RE.search(str(text))
        if match:
            try:
                return str(uuid.UUID(match.group(0)))
            except ValueError:
                continue
    return None


def mark_poisoned(message, reason: str) -> None:
    execution_id = execution_id_from(message)
    if execution_id is None:
        return
    try:
        from django.db import close_old_connections

        from executions import transitions
        from executions.engine.logs import log_line
        from executions.models import ExecutionStatus as S
        from executions.models import LogLevel

        close_old_connections()
        text = f"The task message for this execution could not be processed and was dead-lettered: {reason}"
        execution = transitions.transition(
            execution_id,
            from_statuses={S.PENDING, S.RUNNING},
            to=S.FAILED,
            error_type="PoisonMessage",
            error_message=text[:2000],
        )
        if execution is not None:
            log_line(execution_id, LogLevel.ERROR, text[:2000])
    except Exception:
        logger.exception("could not mark execution %s as poisoned", execution_id)


class BifrostConsumer(Consumer):
    def on_decode_error(self, message, exc):
        logger.error("undecodable message dead-lettered: %s (headers %r)", exc, message.headers)
        message.reject_log_error(logger, self.connection_errors)
        mark_poisoned(message, f"undecodable message ({exc})")
