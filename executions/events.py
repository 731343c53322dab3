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
import time
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer

from bifrost_site.redis_direct import DirectConnection

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


def _waves(sends: list[tuple[str, dict]]) -> list[list[tuple[str, dict]]]:
    """Split sends into waves that can each go out at once: a group's events stay in order
    (its second event goes in a later wave than its first)."""
    waves: list[list[tuple[str, dict]]] = []
    last_wave: dict[str, int] = {}
    for group, event in sends:
        index = last_wave.get(group, -1) + 1
        if index == len(waves):
            waves.append([])
        waves[index].append((group, event))
        last_wave[group] = index
    return waves


class _Broadcaster:
    """One event loop in a daemon thread per process, so channels-redis keeps ONE connection pool.

    channels-redis keeps its Redis connections per event loop. `async_to_sync(layer.group_send)`
    from a worker thread ran every send on a new event loop, which meant a new loop, a new Redis
    connection (connect + HELLO + reading redis-py's version from package metadata) and closing it
    again: 2-4 ms per send and 3 sends per status change. Here the sends of one call run together
    (`asyncio.gather`) on the long-lived loop, and calls run one after another in the order they
    were made (an asyncio.Lock, FIFO), so a client never sees `Success` before `Running`.

    By default the caller checks which groups have members and waits until its sends are done.
    While a worker runs an execution, broadcasts are *deferred* (`defer()`): the thread running the
    workflow only appends them to a queue and never waits on Redis. The queue is drained by
    `flush_broadcasts()` (the task_postrun handler in executions.tasks, after the run's answer went
    out, so a sync caller is not held up), or by a ticker thread when an event has waited DEFER_TICK_SECONDS
    (a long run's `Running`). A drain checks all its groups for members with one pipelined ZCOUNT,
    so a short run's `Running` and `Success` share one round trip. Drains are serialized: the
    order of events is kept. Either way an event is only queued after its row or lines were
    committed. Created lazily, and again after a fork.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bifrost-broadcast", daemon=True)
        self.thread.start()
        self.deferring = False
        self._order: asyncio.Lock | None = None
        self._queue: list[tuple[float, object, list[tuple[str, dict]]]] = []  # (queued at, layer, sends)
        self._queue_lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._ticking = threading.Event()  # clear while the ticker waits for work
        self._ticking.set()

    async def _run(self, layer, sends: list[tuple[str, dict]]) -> None:
        if self._order is None:
            self._order = asyncio.Lock()
        async with self._order:
            for wave in _waves(sends):
                results = await asyncio.gather(
                    *(layer.group_send(group, event) for group, event in wave), return_exceptions=True
                )
                for (group, _), result in zip(wave, results, strict=True):
                    if isinstance(result, BaseException):
                        logger.warning(
                            "could not broadcast to %s; clients will backfill from the database", group, exc_info=result
                        )

    def send(self, layer, sends: list[tuple[str, dict]], timeout: float | None = None) -> None:
        """Send now (groups already checked for members) and wait."""
        future = asyncio.run_coroutine_threadsafe(self._run(layer, sends), self.loop)
        future.result(timeout=timeout or SEND_TIMEOUT_SECONDS)

    def defer(self, layer, sends: list[tuple[str, dict]]) -> None:
        with self._queue_lock:
            self._queue.append((time.monotonic(), layer, sends))
        if self._ticker is None:
            self._start_ticker()
        elif not self._ticking.is_set():
            self._ticking.set()  # wake the ticker from its idle wait

    def _start_ticker(self) -> None:
        with self._queue_lock:
            if self._ticker is not None:
                return
            self._ticker = threading.Thread(target=self._tick, name="bifrost-broadcast-ticker", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        # Every tick wakes the process (a few hundred microseconds of CPU on a small VM), so after
        # TICKER_IDLE_TICKS ticks with nothing deferred the ticker waits for the next deferral instead.
        empty_ticks = 0
        while True:
            if empty_ticks >= TICKER_IDLE_TICKS:
                self._ticking.clear()
                with self._queue_lock:
                    pending = bool(self._queue)
                if not pending:
                    self._ticking.wait()
                empty_ticks = 0
            time.sleep(DEFER_TICK_SECONDS)
            with self._queue_lock:
                pending = bool(self._queue)
                due = pending and time.monotonic() - self._queue[0][0] >= DEFER_TICK_SECONDS
            if due:
                self.drain(SEND_TIMEOUT_SECONDS)
            empty_ticks = 0 if pending else empty_ticks + 1

    def drain(self, timeout: float) -> None:
        """Send everything deferred so far, in order."""
        with self._drain_lock:
            with self._queue_lock:
                batch, self._queue = self._queue, []
            # consecutive calls for the same layer go out as one call (in their order)
            runs: list[tuple[object, list[tuple[str, dict]]]] = []
            for _, layer, sends in batch:
                if runs and runs[-1][0] is layer:
                    runs[-1][1].extend(sends)
                else:
                    runs.append((layer, list(sends)))
            for layer, sends in runs:
                _checked_send(layer, sends, timeout)


SYNC_CLIENT_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}


class _GroupMembers:
    """Which channel-layer groups have a member, asked synchronously (by the sending or draining thread).

    Most groups have nobody listening (no one watches that execution or the history page), yet
    channels-redis's `group_send` spends two round trips on a group before it knows it is empty,
    and handing a send to the broadcast loop costs a thread switch. One pipelined ZCOUNT per Redis
    host here answers for all the groups of a call, and a call whose groups are all empty stops.
    A group that gains its member just after this misses nothing: consumers read the stored
    backlog and the current status after joining (DESIGN §10).

    The ZCOUNTs go over one connection per host that this object keeps for itself, written and read
    directly (bifrost_site.redis_direct): redis-py's client and pipeline around the same round trip
    cost twice the CPU, and this check runs once per workflow run (docs/performance.md section 10).
    """

    def __init__(self, layer) -> None:
        self.pid = os.getpid()
        self.layer = layer
        self.connections = [
            DirectConnection(
                host["address"], **{**SYNC_CLIENT_OPTIONS, **{k: v for k, v in host.items() if k != "address"}}
            )
            if "address" in host
            else None
            for host in layer.hosts
        ]

    def filter(self, sends: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
        layer = self.layer
        floor = int(time.time()) - layer.group_expiry
        by_host: dict[int, list[str]] = {}
        for group in dict.fromkeys(group for group, _ in sends):  # each group once, in order
            by_host.setdefault(layer.consistent_hash(group), []).append(group)
        keep: set[str] = set()
        for index, groups in by_host.items():
            connection = self.connections[index]
            if connection is None:  # a sentinel or other host kind: no pre-check, send to all
                keep.update(groups)
                continue
            counts = connection.round_trip([("ZCOUNT", layer._group_key(g), floor, "+inf") for g in groups])
            keep.update(group for group, count in zip(groups, counts, strict=True) if count)
        return [(group, event) for group, event in sends if group in keep]


_members: _GroupMembers | None = None


def _sends_with_members(layer, sends: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    global _members
    current = _members
    if current is None or current.layer is not layer or current.pid != os.getpid():
        current = _members = _GroupMembers(layer)
    return current.filter(sends)


_broadcaster: _Broadcaster | None = None
_broadcaster_lock = threading.Lock()
SEND_TIMEOUT_SECONDS = 5.0
DEFER_TICK_SECONDS = 0.05
TICKER_IDLE_TICKS = 20  # about a second without deferred broadcasts


def _get_broadcaster() -> _Broadcaster:
    global _broadcaster
    current = _broadcaster
    if current is None or current.pid != os.getpid():
        with _broadcaster_lock:
            current = _broadcaster
            if current is None or current.pid != os.getpid():
                current = _broadcaster = _Broadcaster()
    return current


def defer_broadcasts() -> None:
    """From now on this process queues broadcasts without waiting for them, until `flush_broadcasts()`."""
    _get_broadcaster().deferring = True


def flush_broadcasts(timeout: float = SEND_TIMEOUT_SECONDS) -> None:
    """Wait for every deferred broadcast of this process and go back to waiting on each send."""
    current = _broadcaster
    if current is None or current.pid != os.getpid():
        return
    current.deferring = False
    current.drain(timeout)


def _checked_send(layer, sends: list[tuple[str, dict]], timeout: float | None = None) -> None:
    """Send to those of `sends`' groups that have a member, and wait."""
    try:
        sends = _sends_with_members(layer, sends)
        if sends:
            _get_broadcaster().send(layer, sends, timeout)
    except Exception:
        logger.warning(
            "could not broadcast to %s; clients will backfill from the database",
            ", ".join(group for group, _ in sends),
            exc_info=True,
        )


def _group_send_many(sends: list[tuple[str, dict]]) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None or not sends:
        return
    try:
        if isinstance(layer, RedisChannelLayer):
            current = _broadcaster
            if current is not None and current.pid == os.getpid() and current.deferring:
                current.defer(layer, sends)
            else:
                _checked_send(layer, sends)
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
