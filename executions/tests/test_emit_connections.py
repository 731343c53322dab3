"""`executions.events.emit` keeps one channel-layer connection per process instead of one per call."""

import redis
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from executions import events


def test_repeated_emits_reuse_the_channel_layers_connection():
    assert isinstance(get_channel_layer(), RedisChannelLayer)
    events.emit([("execution.warm-up", {"type": "execution.status", "status": {}})])
    server = redis.Redis.from_url(settings.REDIS_CHANNELS_URL)
    before = server.info("stats")["total_connections_received"]
    for number in range(40):
        events.emit([(f"execution.probe-{number}", {"type": "execution.status", "status": {}})])
    opened = server.info("stats")["total_connections_received"] - before
    # Other processes on this machine may connect meanwhile; 40 emits used to open 40 connections.
    assert opened < 10
