"""The one way execution events reach WebSocket clients (DESIGN §9, §10): `emit`.

Callers persist first and emit after: log lines are stored in batches by the log collector
(executions.engine.logs: every 50 ms or 100 lines) and each stored batch is one `execution.logs`
event; a status change is emitted once its UPDATE is committed (executions.transitions), to the
execution's group and to the history groups. Consumers deduplicate by `sequence`, so a line that
arrives both from the backlog and live is shown once.

`emit` sends with the channel layer's public API (`group_send`), in order, and waits for it. With the Redis
layer the sends run on one event loop per process, kept in a daemon thread: channels-redis keeps its
connections per event loop, and `async_to_sync` from a worker thread would make a new loop, and so a new
Redis connection, for every call (measured: one connection and about 4 ms of CPU per emit).
Broadcast failures (Redis down) are logged and swallowed: the database is the source of truth and
clients backfill from it on reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

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


SEND_TIMEOUT_SECONDS = 5.0
_loop_lock = threading.Lock()
_loop_by_pid: dict[int, asyncio.AbstractEventLoop] = {}


def _loop() -> asyncio.AbstractEventLoop:
    """This process's broadcast loop, started on first use (and again in a forked child)."""
    pid = os.getpid()
    loop = _loop_by_pid.get(pid)
    if loop is None:
        with _loop_lock:
            loop = _loop_by_pid.get(pid)
            if loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="bifrost-broadcast", daemon=True).start()
                _loop_by_pid.clear()  # a parent's loop has no thread in this process
                _loop_by_pid[pid] = loop
    return loop


async def _send_all(layer, sends: list[tuple[str, dict]]) -> None:
    for group, event in sends:
        await layer.group_send(group, event)


def emit(sends: list[tuple[str, dict]]) -> None:
    """Broadcast events that are already persisted: `sends` is [(group, event)], sent in this order.

    Call it from synchronous code (a worker, a sync view or service), after the commit."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    try:
        if isinstance(layer, RedisChannelLayer):
            asyncio.run_coroutine_threadsafe(_send_all(layer, sends), _loop()).result(timeout=SEND_TIMEOUT_SECONDS)
        else:  # e.g. the in-memory layer of some tests, which must run on the caller's loop
            async_to_sync(_send_all)(layer, sends)
    except Exception:
        logger.warning(
            "could not broadcast to %s; clients will backfill from the database",
            ", ".join(dict.fromkeys(group for group, _ in sends)),
            exc_info=True,
        )


def emit_log_lines(execution_id, lines: Iterable) -> None:
    """Broadcast a batch of stored lines as one `execution.logs` event."""
    messages = [log_message(line) for line in lines]
    if messages:
        emit([(execution_group(execution_id), {"type": "execution.logs", "lines": messages})])


def emit_status(execution) -> None:
    """Broadcast a committed status change to the execution's group and the history groups."""
    event = {"type": "execution.status", "status": status_message(execution)}
    emit(
        [
            (execution_group(execution.id), event),
            (history_group(execution.organization_id), event),
            (HISTORY_GROUP_GLOBAL, event),
        ]
    )
