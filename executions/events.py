"""The one way execution events reach WebSocket clients (DESIGN §10).

Lines are persisted first, then broadcast to the channel group `execution.<id>`; status changes go
to the same group and to the scope-wide history group. Consumers deduplicate by `sequence`.
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


class _Broadcaster:
    """One event loop in a daemon thread per process, so channels-redis keeps ONE connection pool.

    channels-redis keeps its Redis connections per event loop. `async_to_sync(layer.group_send)`
    from a worker thread ran every send on a new event loop, which meant a new loop, a new Redis
    connection (connect + HELLO + reading redis-py's version from package metadata) and closing it
    again: 2-4 ms per send and 3 sends per status change. Here the sends of one call run together
    (`asyncio.gather`) on the long-lived loop; the caller still waits until they are done, so
    "persist, then broadcast, then return" keeps its order. Created lazily, again after a fork.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bifrost-broadcast", daemon=True)
        self.thread.start()

    def send(self, layer, sends: list[tuple[str, dict]]) -> None:
        async def run():
            return await asyncio.gather(
                *(layer.group_send(group, event) for group, event in sends), return_exceptions=True
            )

        results = asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=SEND_TIMEOUT_SECONDS)
        for (group, _), result in zip(sends, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning(
                    "could not broadcast to %s; clients will backfill from the database", group, exc_info=result
                )


_broadcaster: _Broadcaster | None = None
_broadcaster_lock = threading.Lock()
SEND_TIMEOUT_SECONDS = 5.0


def _get_broadcaster() -> _Broadcaster:
    global _broadcaster
    current = _broadcaster
    if current is None or current.pid != os.getpid():
        with _broadcaster_lock:
            current = _broadcaster
            if current is None or current.pid != os.getpid():
                current = _broadcaster = _Broadcaster()
    return current


def _group_send_many(sends: list[tuple[str, dict]]) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None or not sends:
        return
    try:
        if type(layer).__module__.startswith("channels_redis"):
            _get_broadcaster().send(layer, sends)
        else:  # e.g. the in-memory layer of some tests: it must run on the caller's loop
            for group, event in sends:
                async_to_sync(layer.group_send)(group, event)
    except Exception:
        logger.warning(
            "could not broadcast to %s; clients will backfill from the database",
            ", ".join(group for group, _ in sends),
            exc_info=True,
        )


def _group_send(group: str, event: dict) -> None:
    _group_send_many([(group, event)])


def emit_log_lines(execution_id, lines: Iterable) -> None:
    """Broadcast already-persisted lines as one batch event (`execution.logs`)."""
    messages = [log_message(line) for line in lines]
    if messages:
        _group_send(execution_group(execution_id), {"type": "execution.logs", "lines": messages})


def emit_status(execution) -> None:
    """Broadcast a status change to the execution's group and the history groups."""
    message = status_message(execution)
    event = {"type": "execution.status", "status": message}
    _group_send_many(
        [
            (execution_group(execution.id), event),
            (history_group(execution.organization_id), event),
            (HISTORY_GROUP_GLOBAL, event),
        ]
    )
