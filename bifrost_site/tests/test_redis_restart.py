"""The channel layer survives a Redis restart (issue 9, faults; found by bench/faults `redis`).

redis-py 8 skipped its "closed by the server?" check on pooled connections while RESP3 maintenance
notifications were on (its default), so the first commands after a restart failed with "Connection
closed by server"; `settings._channel_layer_host` turns them off. The WebSocket end of it is in
executions/tests/test_consumers.py. Runs its own throwaway redis-server: the shared Redis is never touched.
"""

import asyncio

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from bifrost_site.testing import redis_server

pytestmark = pytest.mark.skipif(not redis_server.AVAILABLE, reason="needs the redis-server binary")


def test_pooled_channel_layer_connections_are_replaced_after_redis_restarts():
    with redis_server.throwaway_redis() as server:
        host = dict(settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0], address=server.url(2))

        async def scenario():
            layer = RedisChannelLayer(hosts=[host], prefix="restart-test")
            channel = await layer.new_channel()
            await layer.group_add("g", channel)
            await layer.group_send("g", {"type": "x", "n": 1})
            assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
            await layer.wait_received()  # every pooled connection is idle now
            server.kill()
            await asyncio.sleep(0.3)  # the loop runs on, as in a web process: it sees the connections close
            server.start()
            # the group went with the old server; each call takes a pooled connection from before
            await layer.group_add("g", channel)
            await layer.group_send("g", {"type": "x", "n": 2})
            assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 2
            await layer.flush()

        asyncio.run(scenario())
