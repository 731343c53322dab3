"""The one way execution events reach WebSocket clients (DESIGN §10).

Lines are persisted first, then broadcast to the channel group `execution.<id>`; status changes go
to the same group and to the scope-wide history group. Consumers deduplicate by `sequence`.
Broadcast failures (Redis down) are logged and swallowed: the database is the source of truth and
clients backfill from it on reconnect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync

logger = logging.getLogger(__name__)

HISTORY_GROUP_GLOBAL = "executions.all"


def execution_group(execution_id) -> str:
    return f"execution.{execution_id}"


def history_group(organization_id) -> str:
    """Status changes for the history page: one group per organization plus one for everything."""
    return f"executions.org.{organization_id or 'global'}"


def log_message(line) -> dict:
    """`line` is an ExecutionLog (or any object with the same attributes)."""
    return {
        "type": "log",
        "sequence": line.sequence,
        "level": line.level,
        "message": line.message,
        "timestamp": line.timestamp.isoformat(),
        "data": line.data,
    }


def status_message(execution) -> dict:
    return {
        "type": "status",
        "execution_id": str(execution.id),
        "workflow_name": execution.workflow_name,
        "status": execution.status,
        "is_complete": execution.is_complete,
        "duration_ms": execution.duration_ms,
        "result_type": execution.result_type,
        "organization_id": str(execution.organization_id) if execution.organization_id else None,
        "executed_by_id": str(execution.executed_by_id) if execution.executed_by_id else None,
    }


def _group_send(group: str, event: dict) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        logger.warning("could not broadcast to %s; clients will backfill from the database", group, exc_info=True)


def emit_log_lines(execution_id, lines: Iterable) -> None:
    """Broadcast already-persisted lines as one batch event (`execution.logs`)."""
    messages = [log_message(line) for line in lines]
    if messages:
        _group_send(execution_group(execution_id), {"type": "execution.logs", "lines": messages})


def emit_status(execution) -> None:
    """Broadcast a status change to the execution's group and the history groups."""
    message = status_message(execution)
    event = {"type": "execution.status", "status": message}
    _group_send(execution_group(execution.id), event)
    _group_send(history_group(execution.organization_id), event)
    _group_send(HISTORY_GROUP_GLOBAL, event)
