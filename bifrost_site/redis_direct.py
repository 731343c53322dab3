"""A Redis connection kept by its owner and written and read directly, for the hot path's few round trips.

redis-py's client around one round trip (pool checkout and release under a lock, the retry wrapper,
the command stack, response callbacks) costs about as much CPU as the round trip itself
(docs/performance.md sections 10 and 11). `DirectConnection.round_trip(commands)` packs the commands
into one write and reads one raw reply per command (no response callbacks: bytes, ints, lists, None).

A broken connection, as after a Redis restart, is dropped and the round trip made once more on a new
one. Any other error, an error reply included, drops the connection too, so no reply is left unread
for the next caller. Callers on several threads take turns on one connection (a lock); a blocking
command (BLPOP) holds it until its reply, so each waiting thread keeps its own (`PerThread`).
"""

from __future__ import annotations

import os
import threading

import redis

RETRIED = (redis.ConnectionError, redis.TimeoutError, OSError)


class DirectConnection:
    def __init__(self, url: str, **options) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.connection = redis.Redis.from_url(url, **options).connection_pool.make_connection()

    def round_trip(self, commands: list[tuple]) -> list:
        with self.lock:
            try:
                return self._pipelined(commands)
            except RETRIED:
                pass  # e.g. Redis restarted since the last call: once more, on a new connection
            return self._pipelined(commands)

    def _pipelined(self, commands: list[tuple]) -> list:
        connection = self.connection
        try:
            connection.send_packed_command(connection.pack_commands(commands))
            return [connection.read_response() for _ in commands]
        except BaseException:
            connection.disconnect()  # the next call connects again
            raise


class PerThread:
    """One DirectConnection per thread and process, made on first use."""

    def __init__(self, url: str, **options) -> None:
        self.url = url
        self.options = options
        self.local = threading.local()

    def get(self) -> DirectConnection:
        current = getattr(self.local, "connection", None)
        if current is None or current.pid != os.getpid():
            current = self.local.connection = DirectConnection(self.url, **self.options)
        return current
