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


# How far along a run is, within one attempt: a status never goes back except to Pending for a retry, which
# starts the next attempt. Broadcasts from different processes (the worker's delayed Running, the web's
# Cancelling) can arrive out of order; status_order lets a receiver drop the stale one.
_STATUS_RANK = {"Scheduled": 0, "AwaitingApproval": 0, "Pending": 1, "Running": 2, "Cancelling": 3}
_FINISHED_RANK = 4


def status_order(message: dict) -> tuple[int, int]:
    """(attempt, progress) of a status message: a later status of the run compares greater."""
    return (message.get("attempt") or 1, _STATUS_RANK.get(message.get("status"), _FINISHED_RANK))


def status_message(execution) -> dict:
    return {
        "type": "status",
        "execution_id": str(execution.id),
        "workflow_name": execution.workflow_name,
        "status": execution.status,
        "attempt": execution.attempt,
        "is_complete": execution.is_complete,
        "duration_ms": execution.duration_ms,
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
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
                _running_soon.clear()
                _loop_by_pid[pid] = loop
    return loop


async def _send_all(layer, sends: list[tuple[str, dict]]) -> None:
    for group, event in sends:
        await layer.group_send(group, event)


# A claimed run's `Running` event waits this long on the broadcast loop; a run that ends first sends its
# final status only (most runs of a busy MSP take milliseconds: half the broadcasts, and nobody can see a
# status that lasted less than this).
RUNNING_EVENT_DELAY_SECONDS = 0.1
_running_soon: dict[str, asyncio.TimerHandle] = {}  # execution id -> the delayed send; loop thread only
_send_locks: dict[int, asyncio.Lock] = {}
_delayed_sends: set[asyncio.Task] = set()  # referenced until done (the loop keeps only weak references)


def _delayed_sent(task: asyncio.Task) -> None:
    _delayed_sends.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning(
            "could not broadcast a Running status; clients will backfill from the database", exc_info=task.exception()
        )


async def _send_in_order(layer, sends: list[tuple[str, dict]], execution_id: str | None = None) -> None:
    """Send on the broadcast loop, one batch at a time: a delayed `Running` that is already going out
    finishes before the final status of the same run starts. A final status cancels a delayed one."""
    if execution_id is not None:
        delayed = _running_soon.pop(execution_id, None)
        if delayed is not None:
            delayed.cancel()
    lock = _send_locks.setdefault(os.getpid(), asyncio.Lock())
    async with lock:
        await _send_all(layer, sends)


def emit(sends: list[tuple[str, dict]], *, execution_id: str | None = None) -> None:
    """Broadcast events that are already persisted: `sends` is [(group, event)], sent in this order.

    Call it from synchronous code (a worker, a sync view or service), after the commit."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    try:
        if isinstance(layer, RedisChannelLayer):
            asyncio.run_coroutine_threadsafe(_send_in_order(layer, sends, execution_id), _loop()).result(
                timeout=SEND_TIMEOUT_SECONDS
            )
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


def _status_sends(execution) -> list[tuple[str, dict]]:
    event = {"type": "execution.status", "status": status_message(execution)}
    return [
        (execution_group(execution.id), event),
        (history_group(execution.organization_id), event),
        (HISTORY_GROUP_GLOBAL, event),
    ]


def emit_status(execution) -> None:
    """Broadcast a committed status change to the execution's group and the history groups."""
    emit(_status_sends(execution), execution_id=str(execution.id))


def emit_running(execution) -> None:
    """Broadcast a claimed run's `Running` after RUNNING_EVENT_DELAY_SECONDS, unless its final status is
    emitted first (emit_status cancels it). Returns at once."""
    layer = get_channel_layer()
    if not isinstance(layer, RedisChannelLayer):
        emit_status(execution)
        return
    sends, execution_id, loop = _status_sends(execution), str(execution.id), _loop()

    def send() -> None:
        if _running_soon.pop(execution_id, None) is not None:
            task = loop.create_task(_send_in_order(layer, sends))
            _delayed_sends.add(task)
            task.add_done_callback(_delayed_sent)

    def schedule() -> None:
        _running_soon[execution_id] = loop.call_later(RUNNING_EVENT_DELAY_SECONDS, send)

    loop.call_soon_threadsafe(schedule)
