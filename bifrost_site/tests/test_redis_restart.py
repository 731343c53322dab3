"""KNOWN BUG, not fixed (issue 9, faults; found by bench/faults `redis`): after a Redis restart the
channel layer's pool hands out a connection from before the restart, so the first WebSocket dies
with "Connection closed by server"; a reconnecting client works. redis-py's `retry`/`retry_on_error`
host options fix this test but broke the consumer tests in the full suite (pool lock bound to a
different event loop), so they were not kept. See docs/faults.md.

Runs its own throwaway redis-server on a free loopback port: the shared Redis is never touched.
"""

import asyncio
import shutil
import socket
import subprocess
import time

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("redis-server did not start")


def _stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=10)


@pytest.mark.xfail(strict=True, reason="known bug: stale pooled channel-layer connection after a Redis restart")
def test_a_pooled_channel_layer_connection_is_retried_after_redis_restarts():
    port = _free_port()
    host = dict(settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0], address=f"redis://127.0.0.1:{port}/2")
    server = _start(port)

    async def scenario():
        nonlocal server
        layer = RedisChannelLayer(hosts=[host], prefix="restart-test")
        channel = await layer.new_channel()
        await layer.group_add("g", channel)
        await layer.group_send("g", {"type": "x", "n": 1})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
        _stop(server)
        server = _start(port)  # the pool still holds the connection from before
        await layer.group_add("g", channel)
        await layer.group_send("g", {"type": "x", "n": 2})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 2
        await layer.flush()

    try:
        asyncio.run(scenario())
    finally:
        _stop(server)
