"""A throwaway redis-server on a free loopback port, for tests that kill and restart Redis.

The shared Redis is never touched: the process is this test's child, without persistence, and is
killed at the end. Tests using it should skip when `redis-server` is not installed (`AVAILABLE`).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager

from bifrost_site.testing.ports import free_port

AVAILABLE = shutil.which("redis-server") is not None


class ThrowawayRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL, as in bench/faults `redis`: clients see their connections closed by the server."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@contextmanager
def throwaway_redis():
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()
